"""Score programs through the real boundary in tests: the evaluator here, the candidate alone in a
process-backend job (a subprocess speaking the candidate protocol), exactly as a trusted worker does.

    result = stage_result(SpotEvaluator(), "smoke", code)      # a StageResult, or AssertionError
    outcome = stage_outcome(evaluator, "train", code)          # the StageOutcome, failures included
"""

from __future__ import annotations

import inspect
import textwrap

from evaluators.protocol import EvaluatorRef, StageResult
from sandboxes.base import Limits, SandboxJob, StageOutcome
from sandboxes.job import run_job
from sandboxes.process import ProcessBackend

LIMITS = Limits(wall_seconds=120, cpu_seconds=120, memory_mb=2048)
_REF = EvaluatorRef("unused:unused", ".")  # the evaluator object is passed in; the ref only labels the job


def stage_outcome(evaluator, stage: str, code: str, limits: Limits = LIMITS) -> StageOutcome:
    box = ProcessBackend().open(limits)
    outcome = run_job(evaluator, box, SandboxJob(code, _REF, (stage,)), limits)
    assert outcome.stages, (outcome.failure, outcome.detail)
    return outcome.stages[0]


def stage_result(evaluator, stage: str, code: str, limits: Limits = LIMITS) -> StageResult:
    """The stage's result; fails the test when the candidate crashed or the job failed."""
    frame = stage_outcome(evaluator, stage, code, limits)
    assert frame.error is None and frame.result is not None, (frame.error, frame.detail[-1500:])
    return frame.result


def source_of(*objects, header: str = "") -> str:
    """Candidate code from classes and functions defined in a test (their source, dedented)."""
    parts = [header] if header else []
    parts += [textwrap.dedent(inspect.getsource(o)) for o in objects]
    return "\n\n".join(parts) + "\n"
