"""The sandbox contract: score one job (candidate code + evaluator + stages) under limits.

Values here cross the seam between the framework and the sandboxes. The evaluator runs on the
trusted side (sandboxes.worker), the candidate alone in a box; failures of either, and of the
backends (subprocess, Docker, bubblewrap), become an Outcome with a reason from FAILURE_REASONS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from evaluators.protocol import EvaluatorRef, StageResult

FailureReason = Literal[
    "timeout",  # wall clock or CPU limit hit
    "memory",  # out of memory (MemoryError, OOM kill)
    "crash",  # candidate raised, or the process died without a result
    "invalid_output",  # malformed answers, or a metric outside its declared range
    "output_limit",  # an answer larger than the limit
    "sandbox_error",  # the backend itself failed (could not start, ...)
    "evaluator_error",  # the trusted evaluator raised: a bug in the evaluator, not the candidate
]
FAILURE_REASONS: tuple[str, ...] = (
    "timeout",
    "memory",
    "crash",
    "invalid_output",
    "output_limit",
    "sandbox_error",
    "evaluator_error",
)


@dataclass(frozen=True)
class Gate:
    """Run `stage` only if `after`'s `metric` beats `threshold` (None: always run); `inclusive`: or
    equals it.

    Runs the held-out test stage only for a candidate that is a new best on train, and the
    problem's own gates (problem.toml `[evaluator] gates`: "train only if smoke scores at least X").
    A shut gate ends the job's cascade there.
    """

    stage: str
    after: str
    metric: str
    maximize: bool = True
    threshold: float | None = None
    inclusive: bool = False

    def passes(self, value: float) -> bool:
        if self.threshold is None:
            return True
        if self.inclusive and value == self.threshold:
            return True
        return value > self.threshold if self.maximize else value < self.threshold


@dataclass(frozen=True)
class SandboxJob:
    """Candidate code plus how to score it: stages run in order, stopping at the first failure.

    `ranges` bounds metrics (name -> (low, high)): a stage reporting one outside is invalid_output.
    `fresh` stages start a candidate process of their own (train and the held-out test: a process
    that had lived through smoke and train could count the stages and know it is being held out,
    so both start alike).
    """

    code: str
    evaluator: EvaluatorRef
    stages: tuple[str, ...]
    gates: tuple[Gate, ...] = ()
    ranges: tuple[tuple[str, float, float], ...] = ()
    fresh: tuple[str, ...] = ()


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 120.0
    cpu_seconds: int = 120
    memory_mb: int = 2048
    max_processes: int = 64
    max_output_bytes: int = 16 << 20  # the largest answer message from the candidate
    max_file_mb: int = 64
    stderr_tail_bytes: int = 4000


@dataclass(frozen=True)
class StageOutcome:
    """One stage's result as the trusted worker judged it, or why the stage did not produce one."""

    stage: str
    result: StageResult | None
    error: str | None = None  # a FailureReason when the stage could not produce a result
    detail: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Outcome:
    """What came back from one job: the stages that finished, and the failure that stopped it."""

    stages: tuple[StageOutcome, ...] = ()
    failure: str | None = None  # a FailureReason, or None when every requested stage ran
    detail: str = ""
    gated: str | None = None  # the stage a shut gate kept from running (the cascade stopped there)
    stderr_tail: str = ""
    wall_seconds: float = 0.0

    def stage(self, name: str) -> StageOutcome | None:
        return next((s for s in self.stages if s.stage == name), None)


class Executor(Protocol):
    """Where evaluations run: submit a job and await its outcome, plus closing (one verb, like an
    httpx transport). `name` is the sandbox backend its workers use. Implementations: WorkerPool
    (trusted worker processes on this machine, sandboxes.pool) and RayPool (the same workers as
    Ray actors on a cluster, sandboxes.ray_pool). Neither runs more than its number of slots at once."""

    name: str

    async def run(self, job: SandboxJob, limits: Limits) -> Outcome: ...

    async def aclose(self) -> None: ...
