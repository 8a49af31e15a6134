"""From a proposal to a candidate: enforce the blocks, reject duplicates, evaluate.

Every proposal becomes a candidate row, even one with no usable code, so the lineage shows
exactly what was tried and why it failed. The child's code is parsed once, hashed once.
"""

from __future__ import annotations

from collections.abc import Callable

from evolve.blocks import editable_text
from evolve import dedupe
from evolve.edits.answer import checked_child
from evolve.edits.text import with_final_newline
from evolve.errors import PatchError
from evolve.guard import check_code
from evolve.lineage import CODE_SIZE
from evolve.loop.plan import Proposed
from evolve.patching import unified_diff
from evolve.problem import Problem
from evolve.scoring import Scorer
from evolve.store.records import CandidateRecord
from evolve.verdict import Verdict

SeenBefore = Callable[[str, str, int], "str | None"]  # (code hash, normalized hash, snapshot) -> duplicate kind


async def make_child(proposed: Proposed, seen_before: SeenBefore, scorer: Scorer, problem: Problem) -> CandidateRecord:
    plan, proposal, parent = proposed.plan, proposed.proposal, proposed.parent
    base = dict(
        iteration=plan.iteration,
        island=plan.island,
        generation=parent.generation + 1,
        parent_id=parent.id,
        inspiration_ids=tuple(e.id for e in plan.inspirations),
        summary=proposal.summary,
        seen_upto=plan.seen_upto,
    )
    if proposal.code is None:
        return CandidateRecord(
            code="", code_hash="", norm_hash="", status="rejected", failure_reason=proposal.failure or "no_code",
            failure_detail=proposal.detail, **base,
        )
    code = with_final_newline(proposal.code)
    hashes = dict(code_hash=dedupe.code_hash(code), norm_hash=dedupe.normalized_hash(code))
    diff = unified_diff(parent.code, code, problem.seed_relpath)
    try:
        checked_child(parent.code, code)
        check_code(code, problem.guard)
    except PatchError as exc:
        return CandidateRecord(
            code=code, diff=diff, status="rejected", failure_reason=exc.reason, failure_detail=str(exc), **hashes, **base
        )
    duplicate = seen_before(hashes["code_hash"], hashes["norm_hash"], plan.seen_upto)
    if duplicate:
        return CandidateRecord(
            code=code, diff=diff, status="duplicate", failure_reason=duplicate, failure_detail="", **hashes, **base
        )
    verdict = await scorer.score(code, plan.threshold)
    return candidate_from_verdict(verdict, problem, code, **base, **hashes, diff=diff)


def candidate_from_verdict(
    verdict: Verdict, problem: Problem, code: str, *, code_hash: str | None = None, norm_hash: str | None = None, **fields
) -> CandidateRecord:
    """A scored candidate; `fields` are its place in the lineage (iteration, island, parent...)."""
    return CandidateRecord(
        code=code,
        code_hash=code_hash or dedupe.code_hash(code),
        norm_hash=norm_hash or dedupe.normalized_hash(code),
        status=verdict.status,
        failure_reason=verdict.failure_reason,
        failure_detail=verdict.failure_detail,
        score=verdict.score,
        test_score=verdict.test_score,
        features=features(verdict.metrics, code, problem),
        evaluations=verdict.evaluations,
        **{"generation": 0, "parent_id": None, **fields},
    )


def features(metrics: dict[str, float], code: str, problem: Problem) -> dict[str, float]:
    """Behaviour features for the MAP-Elites grid: the configured metrics plus code size."""
    out = {CODE_SIZE: float(len(editable_text(code)))}
    for dim in problem.features:
        if dim.metric in metrics:
            out[dim.metric] = metrics[dim.metric]
    return out
