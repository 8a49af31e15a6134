"""The store's aggregate reads for `evolve status`, `best`, `export` and the end of a run.

Each is one query that the indexes of migration 0005 answer without reading code, prompts or
answers (see evolve.store.migrations), so a summary costs about the same at 100k candidates as
at 1k. Functions take an open session; the Store facade owns sessions.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from evolve.proposers.base import PROMPT_OPERATOR
from evolve.store import models as m
from evolve.store.records import CandidateSummary

RECENT_FAILURES = 2000  # the failures whose details are grouped into kinds (the counts by reason are exact)


def status_counts(session: Session, run_id: int) -> tuple[Counter, Counter]:
    """(candidates by status, failed/rejected/invalid candidates by reason)."""
    c = m.Candidate
    by_status = session.execute(select(c.status, func.count()).where(c.run_id == run_id).group_by(c.status)).all()
    by_reason = session.execute(
        select(c.failure_reason, func.count()).where(c.run_id == run_id, c.failure_reason.is_not(None)).group_by(c.failure_reason)
    ).all()
    return Counter(dict(by_status)), Counter(dict(by_reason))


def proposal_totals(session: Session, run_id: int) -> dict[str, float]:
    """Calls, tokens and dollars summed in SQL (prompts and responses stay on disk)."""
    p = m.Proposal
    calls, tokens_in, tokens_out, cost = session.execute(
        select(
            func.count(p.id),
            func.coalesce(func.sum(p.tokens_in), 0),
            func.coalesce(func.sum(p.tokens_out), 0),
            func.coalesce(func.sum(p.cost_usd), 0.0),
        ).where(p.run_id == run_id)
    ).one()
    return {"calls": calls, "tokens_in": tokens_in, "tokens_out": tokens_out, "cost_usd": float(cost)}


def valid_scores(session: Session, run_id: int) -> list[float]:
    """Train scores of valid candidates after the seed, in the order they were committed."""
    c = m.Candidate
    return list(
        session.scalars(
            select(c.score)
            .where(c.run_id == run_id, c.status == "valid", c.position > 0, c.score.is_not(None))
            .order_by(c.position)
        )
    )


def recent_failures(session: Session, run_id: int, limit: int = RECENT_FAILURES) -> list[CandidateSummary]:
    """The latest `limit` failed, invalid, gated or rejected candidates (duplicates aside), newest first."""
    c = m.Candidate
    columns = (c.iteration, c.island, c.status, c.failure_reason, c.failure_detail, c.score, c.test_score, c.summary)
    rows = session.execute(
        select(*columns)
        .where(c.run_id == run_id, c.failure_reason.is_not(None), c.status != "duplicate")
        .order_by(c.position.desc())
        .limit(limit)
    ).all()
    return [CandidateSummary(*row) for row in rows]


def model_usage(session: Session, run_id: int) -> list[dict]:
    """Per model: calls, tokens, dollars, retries, unpriced calls, prompt-writing calls, and
    failures by reason (a prompt-writing call makes no candidate, so it is no failure).

    Grouped in SQL by everything the tally depends on, then folded here (a few dozen rows).
    """
    p, c = m.Proposal, m.Candidate
    tries = func.coalesce(func.json_array_length(p.attempts), 1)
    made = c.id.is_not(None)
    keys = (p.model, p.operator, p.priced, tries, c.failure_reason, made)
    rows = session.execute(
        select(*keys, func.count(), func.sum(p.tokens_in), func.sum(p.tokens_out), func.sum(p.cost_usd))
        .outerjoin(c, c.proposal_id == p.id)
        .where(p.run_id == run_id)
        .group_by(*keys)
    ).all()
    usage: dict[str, dict] = {}
    for model, operator, priced, attempts, reason, committed, calls, t_in, t_out, cost in rows:
        u = usage.setdefault(
            model,
            {"model": model, "calls": 0, "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0,
             "retries": 0, "unpriced_calls": 0, "prompt_calls": 0, "failures": Counter()},
        )  # fmt: skip
        u["calls"] += calls
        u["tokens_in"] += int(t_in or 0)
        u["tokens_out"] += int(t_out or 0)
        u["cost_usd"] += float(cost or 0.0)
        u["retries"] += max(0, int(attempts) - 1) * calls
        u["unpriced_calls"] += 0 if priced else calls
        if operator == PROMPT_OPERATOR:
            u["prompt_calls"] += calls
        elif not committed:
            u["failures"]["uncommitted"] += calls
        elif reason:
            u["failures"][reason] += calls
    return [dict(u, failures=dict(u["failures"])) for _, u in sorted(usage.items())]


def variant_records(session: Session, run_id: int) -> dict[str, tuple[int, int, int, float | None]]:
    """Per prompt variant used: calls, valid children, children better than their parent, best improvement."""
    p, c = m.Proposal, m.Candidate
    rows = session.execute(
        select(
            p.prompt_variant,
            func.count(),
            func.sum(case((c.status == "valid", 1), else_=0)),
            func.sum(case((c.improvement > 0, 1), else_=0)),
            func.max(c.improvement),
        )
        .join(c, c.proposal_id == p.id)
        .where(p.run_id == run_id, p.prompt_variant != "")
        .group_by(p.prompt_variant)
    ).all()
    return {name: (calls, valid or 0, improved or 0, best) for name, calls, valid, improved, best in rows}
