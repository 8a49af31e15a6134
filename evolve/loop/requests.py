"""Build a proposer's request from a plan: the parent and inspirations as the proposer sees them.

A plan holds lineage entries (ids and scores); their code, metrics and feedback are read from the
store for the prompt (evolve.loop.records_cache keeps the recent ones).
"""

from __future__ import annotations

from evolve.loop.plan import Plan
from evolve.problem import Problem
from evolve.proposers.base import ProgramView, ProposalRequest
from evolve.store.records import CandidateRecord


def view(record: CandidateRecord, problem: Problem) -> ProgramView:
    train = record.evaluation(problem.train_stage)
    return ProgramView(
        candidate_id=record.id or 0,
        code=record.code,
        score=record.score,
        metrics=dict(train.metrics) if train else {},
        feedback=train.feedback if train else "",
    )


def failed_view(record: CandidateRecord, problem: Problem) -> ProgramView:
    """A failed child as the repair operator shows it: its code and what went wrong.

    The held-out test stage is never shown to the LLM: when it is what failed, the prompt says
    only that, and how (a timeout, a crash, an invalid result), not what it saw.
    """
    test = problem.evaluator.test_stage
    detail = record.failure_detail
    if test and detail.startswith(f"{test} (held out)"):
        detail = "the held-out test stage failed; its details are withheld"
    reasons = [f"{record.failure_reason}: {detail}".strip(": ")]
    reasons += [f"stage {e.stage}: {e.reason}" for e in record.evaluations if e.reason and e.stage != test]
    return ProgramView(
        candidate_id=record.id or 0, code=record.code, score=None, error="\n".join(r for r in reasons if r)[-2000:]
    )


def build_request(
    plan: Plan,
    parent: CandidateRecord,
    inspirations: tuple[CandidateRecord, ...],
    failed: CandidateRecord | None,
    problem: Problem,
    seed: int,
) -> ProposalRequest:
    """The request for `plan`, given the full records of its parent, inspirations and failed child."""
    return ProposalRequest(
        iteration=plan.iteration,
        island=plan.island,
        parent=view(parent, problem),
        inspirations=tuple(view(r, problem) for r in inspirations),
        seed=f"{seed}:{plan.iteration}:propose",
        context=problem.context,
        seen_upto=plan.seen_upto,
        failed=failed_view(failed, problem) if failed is not None else None,
    )
