"""A trivial trusted evaluator, shipped with the sandboxes, to time a backend.

`evolve sandbox check` and benchmarks/sandbox_overhead.py run it so that what they measure is the
backend's cost (a job, one round trip to the candidate), not an evaluator's.
"""

from __future__ import annotations

from evaluators.answers import Float, Invalid
from evaluators.protocol import EvaluatorRef, StageResult

PROBE_REF = "sandboxes.probe:ProbeEvaluator"
PROBE_CODE = "def f(x):\n    return 2 * x\n"


class ProbeEvaluator:
    stages = ("probe",)

    def run_stage(self, stage: str, candidate) -> StageResult:
        value = candidate.call("f", 21, returns=Float())
        if isinstance(value, Invalid):
            return StageResult(metrics={}, valid=False, reason=value.reason)
        return StageResult(metrics={"score": value})


def probe_ref(problem_dir: str) -> EvaluatorRef:
    return EvaluatorRef(ref=PROBE_REF, problem_dir=problem_dir)
