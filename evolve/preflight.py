"""Checks of a problem folder before any run is created: `evolve check` and `evolve run` share them.

Each check either passes with a short note or raises ProblemError with one line that names the
file at fault, so a broken folder never leaves a failed or "resumable" run behind. The last checks
score the seed through the real boundary (its sandbox, its trusted worker), which also proves that
the evaluator loads and has the stages problem.toml declares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from evolve.blocks import find_blocks
from evolve.errors import PatchError, ProblemError
from evolve.lineage import CODE_SIZE
from evolve.problem import PROBLEM_FILE, Problem
from evolve.scoring import Scorer
from evolve.terminal import last_line
from evolve.verdict import Verdict


@dataclass(frozen=True)
class Passed:
    check: str
    note: str


Report = Callable[[Passed], None]


async def preflight(problem: Problem, scorer: Scorer, report: Report = lambda _: None) -> Verdict:
    """Run every check in order; the seed's verdict (the run can reuse it) or ProblemError."""
    report(Passed("markers", markers(problem)))
    report(Passed("syntax", syntax(problem)))
    verdict = await scorer.score(problem.seed_code, threshold=None)
    report(Passed("evaluator", evaluator_loads(problem, verdict)))
    report(Passed("seed", seed_passes(problem, verdict)))
    report(Passed("features", features_exist(problem, verdict)))
    return verdict


def markers(problem: Problem) -> str:
    try:
        blocks = find_blocks(problem.seed_code)
    except PatchError as exc:
        raise ProblemError(f"{problem.seed_path}: {exc}") from None
    return f"{len(blocks)} EVOLVE-BLOCK region(s) in {problem.seed_path.name}"


def syntax(problem: Problem) -> str:
    try:
        compile(problem.seed_code, str(problem.seed_path), "exec")
    except SyntaxError as exc:
        raise ProblemError(f"{problem.seed_path}:{exc.lineno}: syntax error: {exc.msg}") from None
    return f"{problem.seed_path.name} compiles"


def evaluator_loads(problem: Problem, verdict: Verdict) -> str:
    if verdict.failure_reason == "evaluator_error":
        where = problem.root / PROBLEM_FILE
        raise ProblemError(f"{where}: evaluator {problem.evaluator.ref!r}: {last_line(verdict.failure_detail)}")
    return f"{problem.evaluator.ref} loads and runs stages {', '.join(problem.all_stages)}"


def seed_passes(problem: Problem, verdict: Verdict) -> str:
    if verdict.status != "valid":
        raise ProblemError(
            f"{problem.seed_path}: the seed fails its own evaluation ({verdict.failure_reason}): {last_line(verdict.failure_detail)}"
        )
    test = "" if verdict.test_score is None else f", held-out test {verdict.test_score:.6g}"
    return f"the seed is valid: {problem.objective.metric} {verdict.score:.6g}{test}"


def features_exist(problem: Problem, verdict: Verdict) -> str:
    names = [f.metric for f in problem.features if f.metric != CODE_SIZE]
    missing = [name for name in names if name not in verdict.metrics]
    if missing:
        raise ProblemError(
            f"{problem.root / PROBLEM_FILE}: field 'features': metric {missing[0]!r} is not reported by the evaluator "
            f"(it reports: {', '.join(sorted(verdict.metrics)) or 'nothing'})"
        )
    return f"MAP-Elites axes {', '.join(f.metric for f in problem.features) or CODE_SIZE + ' (default)'}"
