"""Build a proposer's request from a plan: the parent and inspirations as the proposer sees them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evolve.problem import Problem
from evolve.proposers.base import ProgramView, ProposalRequest
from evolve.store.records import CandidateRecord

if TYPE_CHECKING:
    from evolve.controller import Plan


def view(record: CandidateRecord, problem: Problem) -> ProgramView:
    train = record.evaluation(problem.train_stage)
    return ProgramView(
        candidate_id=record.id or 0,
        code=record.code,
        score=record.score,
        metrics=dict(train.metrics) if train else {},
        feedback=train.feedback if train else "",
    )


def failed_view(record: CandidateRecord) -> ProgramView:
    """A failed child as the repair operator shows it: its code and what went wrong."""
    reasons = [f"{record.failure_reason}: {record.failure_detail}".strip(": ")]
    reasons += [f"stage {e.stage}: {e.reason}" for e in record.evaluations if e.reason]
    return ProgramView(
        candidate_id=record.id or 0, code=record.code, score=None, error="\n".join(r for r in reasons if r)[-2000:]
    )


def build_request(plan: "Plan", problem: Problem, seed: int) -> ProposalRequest:
    return ProposalRequest(
        iteration=plan.iteration,
        island=plan.island,
        parent=view(plan.parent, problem),
        inspirations=tuple(view(r, problem) for r in plan.inspirations),
        seed=f"{seed}:{plan.iteration}:propose",
        context=problem.context,
        seen_upto=plan.seen_upto,
        failed=failed_view(plan.failed) if plan.failed is not None else None,
    )
