"""From a proposal to a stored candidate: enforce the blocks, reject duplicates, evaluate.

Every proposal becomes a candidate row, even one with no usable code, so the lineage shows
exactly what was tried and why it failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evolve.blocks import editable_text
from evolve.dedupe import code_hash, normalized_hash
from evolve.edits.answer import checked_child
from evolve.edits.text import with_final_newline
from evolve.errors import PatchError
from evolve.guard import check_code
from evolve.lineage import CODE_SIZE, Lineage
from evolve.patching import unified_diff
from evolve.problem import Problem
from evolve.proposers.base import Proposal
from evolve.scoring import Scorer
from evolve.store.records import CandidateRecord
from evolve.verdict import Verdict

if TYPE_CHECKING:
    from evolve.controller import Plan


async def make_child(plan: "Plan", proposal: Proposal, lineage: Lineage, scorer: Scorer, problem: Problem) -> CandidateRecord:
    parent = plan.parent
    base = dict(
        iteration=plan.iteration,
        island=plan.island,
        generation=parent.generation + 1,
        parent_id=parent.id,
        inspiration_ids=tuple(r.id for r in plan.inspirations if r.id is not None),
        summary=proposal.summary,
    )
    if proposal.code is None:
        return CandidateRecord(
            code="", code_hash="", norm_hash="", status="rejected", failure_reason=proposal.failure or "no_code",
            failure_detail=proposal.detail, **base,
        )
    code = with_final_newline(proposal.code)
    hashes = dict(code_hash=code_hash(code), norm_hash=normalized_hash(code))
    diff = unified_diff(parent.code, code, problem.seed_relpath)
    try:
        checked_child(parent.code, code)
        check_code(code, problem.guard)
    except PatchError as exc:
        return CandidateRecord(
            code=code, diff=diff, status="rejected", failure_reason=exc.reason, failure_detail=str(exc), **hashes, **base
        )
    duplicate = lineage.seen_by(hashes["code_hash"], hashes["norm_hash"], plan.seen_upto)
    if duplicate:
        return CandidateRecord(
            code=code, diff=diff, status="duplicate", failure_reason=duplicate, failure_detail="", **hashes, **base
        )
    verdict = await scorer.score(code, plan.threshold)
    return candidate_from_verdict(
        verdict, problem, code, plan.iteration, plan.island, parent, plan.inspirations, proposal.summary, diff
    )


def candidate_from_verdict(
    verdict: Verdict,
    problem: Problem,
    code: str,
    iteration: int,
    island: int,
    parent: CandidateRecord | None,
    inspirations: tuple[CandidateRecord, ...] = (),
    summary: str = "",
    diff: str = "",
) -> CandidateRecord:
    return CandidateRecord(
        iteration=iteration,
        island=island,
        generation=parent.generation + 1 if parent else 0,
        parent_id=parent.id if parent else None,
        inspiration_ids=tuple(r.id for r in inspirations if r.id is not None),
        code=code,
        code_hash=code_hash(code),
        norm_hash=normalized_hash(code),
        diff=diff,
        summary=summary,
        status=verdict.status,
        failure_reason=verdict.failure_reason,
        failure_detail=verdict.failure_detail,
        score=verdict.score,
        test_score=verdict.test_score,
        features=features(verdict.metrics, code, problem),
        evaluations=verdict.evaluations,
    )


def features(metrics: dict[str, float], code: str, problem: Problem) -> dict[str, float]:
    """Behaviour features for the MAP-Elites grid: the configured metrics plus code size."""
    out = {CODE_SIZE: float(len(editable_text(code)))}
    for dim in problem.features:
        if dim.metric in metrics:
            out[dim.metric] = metrics[dim.metric]
    return out
