"""A trivial trusted evaluator, shipped with the sandboxes (and in the image), to time a backend.

`evolve sandbox check` and benchmarks/sandbox_overhead.py run it so that what they measure is the
backend's cost, not an evaluator's.
"""

from __future__ import annotations

from types import ModuleType

from evaluators.protocol import EvaluatorRef, StageResult

PROBE_REF = "sandboxes.probe:ProbeEvaluator"
PROBE_CODE = "def f(x):\n    return 2 * x\n"


class ProbeEvaluator:
    stages = ("probe",)

    def run_stage(self, stage: str, candidate: ModuleType) -> StageResult:
        return StageResult(metrics={"score": float(candidate.f(21))})


def probe_ref(problem_dir: str) -> EvaluatorRef:
    return EvaluatorRef(ref=PROBE_REF, problem_dir=problem_dir)
