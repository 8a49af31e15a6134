"""What the controller reads to rebuild its population and keep it small: entries without code,
duplicate look-ups, and the calls a learning proposer replays on resume.

The population in memory holds only what selection needs (evolve.store.records.LineageEntry);
code, diffs and evaluations stay here until a prompt or an export asks for them, and duplicates
are found by index look-ups rather than a set of every hash ever seen.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session

from evolve.store import models as m
from evolve.store.records import CallSummary, LineageEntry

CHUNK = 2000  # rows fetched at a time while streaming a lineage


def entries(session: Session, run_id: int) -> Iterator[LineageEntry]:
    """Every committed candidate of a run in commit order, as the population keeps it.

    Read through the Core (no ORM rows), with the features decoded only for valid candidates (the
    only ones placed in a grid): at 100k candidates the Python side would otherwise cost more than
    the database.
    """
    c = m.Candidate
    query = (
        select(c.id, c.iteration, c.position, c.island, c.generation, c.status, c.score, c.test_score,
               c.failure_reason, c.code_hash != "", type_coerce(c.features, String), c.proposal_id, c.improvement)
        .where(c.run_id == run_id)
        .order_by(c.position)
        .execution_options(yield_per=CHUNK)
    )  # fmt: skip
    for cid, iteration, position, island, generation, status, score, test, reason, code, features, proposal, gain in (
        session.connection().execute(query)
    ):
        shape = _features(features) if status == "valid" else {}
        yield LineageEntry(cid, iteration, position, island, generation, status, score, test, reason, bool(code), shape, proposal, gain)


def _features(raw) -> dict[str, float]:
    """SQLite hands the JSON text over; PostgreSQL's driver has already decoded it."""
    if isinstance(raw, str):
        raw = json.loads(raw)
    return dict(raw or {})


def seen_before(session: Session, run_id: int, code_hash: str, norm_hash: str, upto: int) -> str | None:
    """'duplicate' or 'near_duplicate' if a candidate committed at a position up to `upto` had this code."""
    c = m.Candidate
    for column, value, verdict in ((c.code_hash, code_hash, "duplicate"), (c.norm_hash, norm_hash, "near_duplicate")):
        if session.scalar(select(c.id).where(c.run_id == run_id, column == value, c.position <= upto).limit(1)) is not None:
            return verdict
    return None


def call_summaries(session: Session, run_id: int) -> dict[int, CallSummary]:
    """Every call of a run by id, without prompt or answer."""
    p = m.Proposal
    rows = session.execute(select(p.id, p.model, p.cost_usd, p.priced, p.prompt_variant).where(p.run_id == run_id))
    return {pid: CallSummary(model, cost, priced if priced is not None else True, variant or "") for pid, model, cost, priced, variant in rows}


def outcome_texts(session: Session, run_id: int, from_position: int) -> dict[int, tuple[str, str]]:
    """position -> (failure reason and detail, summary) of the candidates from `from_position` on."""
    c = m.Candidate
    rows = session.execute(
        select(c.position, c.failure_reason, c.failure_detail, c.summary).where(c.run_id == run_id, c.position >= from_position)
    )
    return {pos: (": ".join(x for x in (reason, detail) if x)[:300], summary or "") for pos, reason, detail, summary in rows}
