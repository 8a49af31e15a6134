"""The evaluator contract: named stages that score a candidate reached only through calls.

An evaluator is trusted code: workloads, the simulator, validation, scoring. It runs in a trusted
worker on the host side of the sandbox and never shares a process with the candidate: `run_stage`
gets an evaluators.candidate.Candidate, a handle through which it calls the candidate's functions
and objects with plain data and gets plain data back. It is called once per stage in cascade
order (typically smoke, train, test) for each candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from evaluators.candidate import Candidate


@dataclass(frozen=True)
class StageResult:
    """What one stage says about one candidate.

    `metrics` holds the objective among other floats (behaviour features for MAP-Elites too);
    `valid` is False when the candidate's output broke a rule (missed deadline, invalid action...),
    with `reason` saying which; `feedback` is short text for the next prompt.
    """

    metrics: dict[str, float]
    valid: bool = True
    reason: str | None = None
    feedback: str = ""

    def to_json(self) -> dict:
        return {
            "metrics": dict(self.metrics),
            "valid": self.valid,
            "reason": self.reason,
            "feedback": self.feedback,
        }

    @classmethod
    def from_json(cls, data: dict) -> "StageResult":
        """Parse and validate a result that crossed a process boundary; raises ValueError."""
        if not isinstance(data, dict):
            raise ValueError("stage result is not an object")
        metrics = data.get("metrics")
        if not isinstance(metrics, dict):
            raise ValueError("stage result has no metrics object")
        clean: dict[str, float] = {}
        for key, value in metrics.items():
            if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"metric {key!r} is not a number")
            try:
                number = float(value)
            except OverflowError:
                raise ValueError(f"metric {key!r} is out of range") from None
            if not math.isfinite(number):
                raise ValueError(f"metric {key!r} is not finite")
            clean[key] = number
        valid = data.get("valid", True)
        if not isinstance(valid, bool):
            raise ValueError("stage result 'valid' is not a boolean")
        reason = data.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ValueError("stage result 'reason' is not a string")
        feedback = data.get("feedback", "")
        if not isinstance(feedback, str):
            raise ValueError("stage result 'feedback' is not a string")
        return cls(metrics=clean, valid=valid, reason=reason, feedback=feedback[:4000])


@runtime_checkable
class Evaluator(Protocol):
    """Stages in cascade order; each scores the candidate (through calls) into a StageResult."""

    stages: tuple[str, ...]

    def run_stage(self, stage: str, candidate: "Candidate") -> StageResult: ...


@dataclass(frozen=True)
class EvaluatorRef:
    """Where to find an evaluator: `module:attr` or `file.py:attr` relative to the problem folder.

    If the attribute is callable and is not itself an evaluator, it is called with `params`.
    `salt` (a run's private workloads): a factory that takes `seed` gets it mixed with the salt.
    """

    ref: str
    problem_dir: str
    params: dict = field(default_factory=dict)
    salt: int | None = None
