"""Conversions between ORM rows and the plain records the Store hands out and takes in."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from evolve.store import models as m
from evolve.store.records import CandidateRecord, EvaluationRecord, PromptVariantRecord, ProposalRecord, RunInfo


def run_info(row: m.Run) -> RunInfo:
    return RunInfo(
        id=row.id,
        name=row.name,
        problem_name=row.problem_name,
        problem_path=row.problem_path,
        problem_version=row.problem_version,
        config=dict(row.config),
        state=row.state,
        iterations_done=row.iterations_done,
        best_candidate_id=row.best_candidate_id,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


def utc(moment: datetime) -> datetime:
    """UTC without a zone, as SQLite gives it back: PostgreSQL gives it in the session's zone."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def candidate_row(run_id: int, c: CandidateRecord, proposal_id: int | None) -> m.Candidate:
    return m.Candidate(
        run_id=run_id,
        iteration=c.iteration,
        island=c.island,
        generation=c.generation,
        parent_id=c.parent_id,
        inspiration_ids=list(c.inspiration_ids),
        proposal_id=proposal_id,
        code=c.code,
        code_hash=c.code_hash,
        norm_hash=c.norm_hash,
        diff=c.diff,
        summary=c.summary,
        status=c.status,
        failure_reason=c.failure_reason,
        failure_detail=c.failure_detail,
        score=c.score,
        test_score=c.test_score,
        improvement=c.improvement,
        features=dict(c.features),
        position=c.position,
        seen_upto=c.seen_upto,
    )


def evaluations_by_candidate(session: Session, ids: list[int]) -> dict[int, tuple[EvaluationRecord, ...]]:
    out: dict[int, list[EvaluationRecord]] = {}
    if not ids:
        return {}
    rows = session.scalars(select(m.Evaluation).where(m.Evaluation.candidate_id.in_(ids)).order_by(m.Evaluation.id))
    for r in rows:
        out.setdefault(r.candidate_id, []).append(
            EvaluationRecord(r.stage, dict(r.metrics), r.valid, r.reason, r.feedback, r.error, r.seconds)
        )
    return {k: tuple(v) for k, v in out.items()}


def candidate_record(r: m.Candidate, evaluations: tuple[EvaluationRecord, ...]) -> CandidateRecord:
    return CandidateRecord(
        id=r.id,
        iteration=r.iteration,
        island=r.island,
        generation=r.generation,
        parent_id=r.parent_id,
        inspiration_ids=tuple(r.inspiration_ids or ()),
        code=r.code,
        code_hash=r.code_hash,
        norm_hash=r.norm_hash,
        diff=r.diff,
        summary=r.summary,
        status=r.status,
        failure_reason=r.failure_reason,
        failure_detail=r.failure_detail,
        score=r.score,
        test_score=r.test_score,
        improvement=r.improvement,
        features=dict(r.features or {}),
        evaluations=evaluations,
        position=r.position,
        seen_upto=r.seen_upto,
    )


def proposal_record(r: m.Proposal) -> ProposalRecord:
    return ProposalRecord(
        proposer=r.proposer,
        model=r.model,
        prompt=r.prompt,
        response=r.response,
        tokens_in=r.tokens_in,
        tokens_out=r.tokens_out,
        cost_usd=r.cost_usd,
        latency_s=r.latency_s,
        error=r.error,
        operator=r.operator or "",
        attempts=tuple(r.attempts or ()),
        priced=r.priced if r.priced is not None else True,
        iteration=r.iteration,
        parent_id=r.parent_id,
        prompt_variant=r.prompt_variant or "",
    )


def proposal_row(run_id: int, iteration: int, p: ProposalRecord) -> m.Proposal:
    skip = ("iteration", "attempts", "prompt_call", "new_variant")
    fields = {k: v for k, v in p.__dict__.items() if k not in skip}
    return m.Proposal(run_id=run_id, iteration=iteration, attempts=list(p.attempts), **fields)


def add_proposal(session: Session, run_id: int, iteration: int, p: ProposalRecord) -> tuple[int, m.PromptVariant | None]:
    """The call's row, after the prompt-writing call and the variant it wrote (if any)."""
    variant = None
    if p.prompt_call is not None:
        writer = proposal_row(run_id, iteration, p.prompt_call)
        session.add(writer)
        session.flush()
        if p.new_variant is not None:
            v = p.new_variant
            variant = m.PromptVariant(run_id=run_id, name=v.name, parent=v.parent, text=v.text, iteration=iteration, writer_id=writer.id)
            session.add(variant)
    row = proposal_row(run_id, iteration, p)
    session.add(row)
    session.flush()
    return row.id, variant


def variant_record(v: m.PromptVariant) -> PromptVariantRecord:
    return PromptVariantRecord(name=v.name, text=v.text, parent=v.parent, iteration=v.iteration)


def with_id(candidate: CandidateRecord, cid: int) -> CandidateRecord:
    return replace(candidate, id=cid)
