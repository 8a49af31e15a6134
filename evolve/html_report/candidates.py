"""Every candidate in full: code, diff, stages, failure, and the call that proposed it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evolve.html_report.values import CallView, CandidateDetail, CandidateRow, StageView
from evolve.store.records import CandidateRecord, EvaluationRecord, ProposalRecord


def candidate_details(
    candidates: Sequence[CandidateRecord], calls: Mapping[int, ProposalRecord]
) -> tuple[CandidateDetail, ...]:
    """`calls` maps a candidate id to the call that produced it (the seed has none)."""
    children: dict[int, list[int]] = {}
    for c in candidates:
        if c.parent_id is not None and c.id is not None:
            children.setdefault(c.parent_id, []).append(c.id)
    return tuple(_detail(c, calls.get(c.id or -1), tuple(children.get(c.id or -1, ()))) for c in candidates)


def candidate_row(c: CandidateRecord, call: ProposalRecord | None) -> CandidateRow:
    assert c.id is not None, "stored candidates have ids"
    return CandidateRow(
        candidate_id=c.id,
        iteration=c.iteration,
        island=c.island,
        generation=c.generation,
        parent_id=c.parent_id,
        status=c.status,
        reason=c.failure_reason,
        score=c.score,
        test_score=c.test_score,
        summary=c.summary,
        model=(call.model or call.proposer) if call else "",
        operator=call.operator if call else "",
    )


def _detail(c: CandidateRecord, call: ProposalRecord | None, child_ids: tuple[int, ...]) -> CandidateDetail:
    return CandidateDetail(
        row=candidate_row(c, call),
        code=c.code,
        diff=c.diff,
        failure_detail=c.failure_detail,
        inspiration_ids=c.inspiration_ids,
        child_ids=child_ids,
        stages=tuple(_stage(e) for e in c.evaluations),
        call=_call(call) if call else None,
    )


def _stage(e: EvaluationRecord) -> StageView:
    metrics = tuple(sorted((k, float(v)) for k, v in e.metrics.items()))
    return StageView(e.stage, e.valid, e.reason, e.error, e.seconds, metrics, e.feedback)


def _call(p: ProposalRecord) -> CallView:
    return CallView(
        proposer=p.proposer,
        model=p.model,
        operator=p.operator,
        tokens_in=p.tokens_in,
        tokens_out=p.tokens_out,
        dollars=p.cost_usd,
        latency_seconds=p.latency_s,
        attempts=len(p.attempts),
        priced=p.priced,
        error=p.error,
        prompt=p.prompt,
        response=p.response,
    )
