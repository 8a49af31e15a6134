"""The Store: the one writer of a run's lineage. Any SQLAlchemy URL; SQLite (WAL) by default.

Every iteration is committed in a single transaction (proposal, candidate, evaluations, cursor),
so a crash or kill -9 leaves either the whole iteration or none of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import aliased, sessionmaker

from evolve.errors import RunNotFound, StoreError, UserError
from evolve.proposers.base import BASE_VARIANT, PROMPT_OPERATOR
from evolve.store import driver_lock, lineage_reads, models as m, reporting
from evolve.store.database_url import one_line, open_engine, shown
from evolve.store.migrations import migrate
from evolve.store.rows import (
    add_proposal,
    candidate_record,
    candidate_row,
    evaluations_by_candidate,
    proposal_record,
    run_info,
    variant_record,
    with_id,
)
from evolve.store.records import (
    CallSummary,
    CandidateRecord,
    CandidateSummary,
    LineageEntry,
    PromptVariantRecord,
    ProposalRecord,
    ReferenceRecord,
    RunInfo,
    StoredAnswer,
    VariantStats,
)

DB_FILENAME = "evolve.db"


def default_db_url(run_dir: Path) -> str:
    return f"sqlite:///{(run_dir / DB_FILENAME).resolve()}"


class Store:
    def __init__(self, url: str):
        self._engine: Engine = open_engine(url)
        try:
            migrate(self._engine)
        except SQLAlchemyError as exc:
            raise UserError(f"cannot open database {shown(url)!r}: {one_line(exc)}") from None
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self.url = url

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _write(self):
        """One write transaction; the database's refusal (full disk...) becomes a StoreError."""
        try:
            with self._sessions.begin() as session:
                yield session
        except (OperationalError, DatabaseError) as exc:
            raise StoreError(f"cannot write to {shown(self.url)}: {one_line(exc)}") from None

    # runs -------------------------------------------------------------------------------------

    def create_run(self, name: str, problem_name: str, problem_path: str, problem_version: str, config: dict) -> RunInfo:
        row = m.Run(
            name=name,
            problem_name=problem_name,
            problem_path=problem_path,
            problem_version=problem_version,
            config=config,
            state="created",
        )
        with self._write() as session:
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:
                raise UserError(f"a run named {name!r} already exists in this store") from exc
            return run_info(row)

    def run(self, name: str) -> RunInfo:
        with self._sessions() as session:
            row = session.scalar(select(m.Run).where(m.Run.name == name))
            if row is None:
                raise RunNotFound(f"no run named {name!r} in {shown(self.url)}")
            return run_info(row)

    def runs(self) -> list[RunInfo]:
        with self._sessions() as session:
            return [run_info(r) for r in session.scalars(select(m.Run).order_by(m.Run.id))]

    def set_state(self, run_id: int, state: str) -> None:
        with self._write() as session:
            session.get_one(m.Run, run_id).state = state

    def set_config(self, run_id: int, config: dict) -> None:
        with self._write() as session:
            session.get_one(m.Run, run_id).config = config

    @contextmanager
    def driving(self, run_id: int):
        """Hold the run's driver lock in the store itself where machines share it (PostgreSQL);
        yields False if another process holds it, True otherwise (a SQLite store holds nothing)."""
        if not driver_lock.shared(self._engine):
            yield True
            return
        with driver_lock.held(self._engine, run_id) as got:
            yield got

    def driven(self, run_id: int) -> bool | None:
        """Whether a process anywhere drives the run (None: this store cannot tell; ask the lock file)."""
        return driver_lock.taken(self._engine, run_id) if driver_lock.shared(self._engine) else None

    # references (baselines) --------------------------------------------------------------------

    def save_references(self, run_id: int, refs: list[ReferenceRecord]) -> None:
        """Replace the run's reference scores (a restarted start must not add a second set)."""
        with self._write() as session:
            session.execute(delete(m.Reference).where(m.Reference.run_id == run_id))
            for ref in refs:
                session.add(
                    m.Reference(
                        run_id=run_id, name=ref.name, stage=ref.stage, score=ref.score, valid=ref.valid, metrics=ref.metrics
                    )
                )

    def references(self, run_id: int) -> list[ReferenceRecord]:
        with self._sessions() as session:
            rows = session.scalars(select(m.Reference).where(m.Reference.run_id == run_id).order_by(m.Reference.id))
            return [ReferenceRecord(r.name, r.stage, r.score, r.valid, dict(r.metrics)) for r in rows]

    # lineage ----------------------------------------------------------------------------------

    def commit_iteration(
        self, run_id: int, candidate: CandidateRecord, proposal: ProposalRecord | None, new_best: bool
    ) -> CandidateRecord:
        """Store one iteration atomically and count it in the run's progress. Its position (commit
        order) defaults to its iteration, as in a run that commits in iteration order."""
        if candidate.position is None:
            candidate = replace(candidate, position=candidate.iteration)
        with self._write() as session:
            proposal_id = None
            if proposal is not None:
                proposal_id, variant = add_proposal(session, run_id, candidate.iteration, proposal)
            crow = candidate_row(run_id, candidate, proposal_id)
            session.add(crow)
            session.flush()
            if proposal is not None and variant is not None:
                variant.candidate_id = crow.id
            for ev in candidate.evaluations:
                session.add(m.Evaluation(candidate_id=crow.id, **ev.__dict__))
            run = session.get_one(m.Run, run_id)
            run.iterations_done = candidate.position
            if new_best:
                run.best_candidate_id = crow.id
            cid = crow.id
        return with_id(candidate, cid)

    def candidates(self, run_id: int) -> list[CandidateRecord]:
        """Every candidate of a run in iteration order, with its evaluations."""
        with self._sessions() as session:
            rows = list(session.scalars(select(m.Candidate).where(m.Candidate.run_id == run_id).order_by(m.Candidate.iteration)))
            evals = evaluations_by_candidate(session, [r.id for r in rows])
            return [candidate_record(r, evals.get(r.id, ())) for r in rows]

    def committed_iterations(self, run_id: int) -> set[int]:
        """The iterations of a run stored so far (with gaps where calls are still out, in completion order)."""
        with self._sessions() as session:
            return set(session.scalars(select(m.Candidate.iteration).where(m.Candidate.run_id == run_id)))

    def lineage_entries(self, run_id: int) -> Iterator[LineageEntry]:
        """Every committed candidate in commit order, without code (streamed: keep the loop short)."""
        with self._sessions() as session:
            yield from lineage_reads.entries(session, run_id)

    def seen_before(self, run_id: int, code_hash: str, norm_hash: str, upto: int) -> str | None:
        """'duplicate' / 'near_duplicate' if a candidate committed at a position up to `upto` had this code."""
        with self._sessions() as session:
            return lineage_reads.seen_before(session, run_id, code_hash, norm_hash, upto)

    def call_summaries(self, run_id: int) -> dict[int, CallSummary]:
        """Every call of a run by id, without prompt or answer (a learning proposer's resume)."""
        with self._sessions() as session:
            return lineage_reads.call_summaries(session, run_id)

    def outcome_texts(self, run_id: int, from_position: int) -> dict[int, tuple[str, str]]:
        """position -> (failure reason and detail, summary), for the latest candidates."""
        with self._sessions() as session:
            return lineage_reads.outcome_texts(session, run_id, from_position)

    def candidate_summaries(self, run_id: int) -> list[CandidateSummary]:
        """Every candidate of a run in iteration order, without code or evaluations."""
        c = m.Candidate
        columns = (c.iteration, c.island, c.status, c.failure_reason, c.failure_detail, c.score, c.test_score, c.summary)
        with self._sessions() as session:
            rows = session.execute(select(*columns).where(c.run_id == run_id).order_by(c.iteration)).all()
        return [CandidateSummary(*row) for row in rows]

    def candidate(self, candidate_id: int) -> CandidateRecord:
        with self._sessions() as session:
            row = session.get(m.Candidate, candidate_id)
            if row is None:
                raise RunNotFound(f"no candidate {candidate_id}")
            return candidate_record(row, evaluations_by_candidate(session, [row.id]).get(row.id, ()))

    def candidate_at(self, run_id: int, iteration: int) -> CandidateRecord | None:
        with self._sessions() as session:
            cid = session.scalar(
                select(m.Candidate.id).where(m.Candidate.run_id == run_id, m.Candidate.iteration == iteration)
            )
        return self.candidate(cid) if cid is not None else None

    def lineage(self, candidate_id: int) -> list[CandidateRecord]:
        """The chain from the seed to this candidate (seed first)."""
        chain: list[CandidateRecord] = []
        current: int | None = candidate_id
        while current is not None:
            record = self.candidate(current)
            chain.append(record)
            current = record.parent_id
        return chain[::-1]

    def status_counts(self, run_id: int) -> tuple[Counter, Counter]:
        """(candidates by status, failed/rejected/invalid candidates by reason)."""
        with self._sessions() as session:
            return reporting.status_counts(session, run_id)

    def proposal_totals(self, run_id: int) -> dict[str, float]:
        """Calls, tokens and dollars summed in SQL (prompts and responses stay on disk)."""
        with self._sessions() as session:
            return reporting.proposal_totals(session, run_id)

    def proposals(self, run_id: int) -> list[ProposalRecord]:
        """Every call, committed or not, in iteration order."""
        with self._sessions() as session:
            rows = session.scalars(
                select(m.Proposal).where(m.Proposal.run_id == run_id).order_by(m.Proposal.iteration, m.Proposal.id)
            )
            return [proposal_record(r) for r in rows]

    def valid_scores(self, run_id: int) -> list[float]:
        """Train scores of valid candidates after the seed, in commit order."""
        with self._sessions() as session:
            return reporting.valid_scores(session, run_id)

    def recent_failures(self, run_id: int) -> list[CandidateSummary]:
        """The latest failures (evolve.store.reporting.RECENT_FAILURES), newest first, without code."""
        with self._sessions() as session:
            return reporting.recent_failures(session, run_id)

    def save_uncommitted_proposals(self, run_id: int, items: list[tuple[int, ProposalRecord]]) -> None:
        """Calls made for iterations a stop cancelled: paid for, so kept (with no candidate)."""
        if not items:
            return
        with self._write() as session:
            for iteration, proposal in items:
                add_proposal(session, run_id, iteration, proposal)

    def proposal_of(self, candidate_id: int) -> ProposalRecord | None:
        """The call that produced a candidate (None for the seed), with the prompt-writing call and
        the variant it wrote in that iteration, if any."""
        with self._sessions() as session:
            row = session.scalar(
                select(m.Proposal).join(m.Candidate, m.Candidate.proposal_id == m.Proposal.id).where(m.Candidate.id == candidate_id)
            )
            if row is None:
                return None
            found = session.execute(
                select(m.PromptVariant, m.Proposal)
                .join(m.Proposal, m.PromptVariant.writer_id == m.Proposal.id)
                .where(m.PromptVariant.candidate_id == candidate_id)
            ).first()
            if found is None:
                return proposal_record(row)
            variant, writer = found
            return replace(proposal_record(row), prompt_call=proposal_record(writer), new_variant=variant_record(variant))

    def prompt_variants(self, run_id: int) -> list[PromptVariantRecord]:
        """Every committed prompt variant of a run, in the order they were written."""
        with self._sessions() as session:
            rows = session.scalars(
                select(m.PromptVariant)
                .where(m.PromptVariant.run_id == run_id, m.PromptVariant.candidate_id.is_not(None))
                .order_by(m.PromptVariant.iteration)
            )
            return [variant_record(v) for v in rows]

    def answers(self, run_id: int) -> list[StoredAnswer]:
        """Every stored LLM answer (prompt-writing calls aside), committed or not, in iteration order."""
        child, asked, made_from = aliased(m.Candidate), aliased(m.Candidate), aliased(m.Candidate)
        with self._sessions() as session:
            rows = session.execute(
                select(m.Proposal, func.coalesce(asked.code, made_from.code), child.status, child.failure_reason)
                .outerjoin(child, child.proposal_id == m.Proposal.id)
                .outerjoin(asked, asked.id == m.Proposal.parent_id)
                .outerjoin(made_from, made_from.id == child.parent_id)
                .where(m.Proposal.run_id == run_id, m.Proposal.response != "", m.Proposal.operator != PROMPT_OPERATOR)
                .order_by(m.Proposal.iteration, m.Proposal.id)
            ).all()
            return [
                StoredAnswer(p.iteration, p.model, p.operator, p.prompt_variant or "", p.response, code, status, reason)
                for p, code, status, reason in rows
            ]

    def prompt_variant_stats(self, run_id: int) -> list[VariantStats]:
        """Every prompt variant used or written (the shipped "base" first) with its record: calls,
        valid children, children that improved on their parent, and the best improvement."""
        with self._sessions() as session:
            used = reporting.variant_records(session, run_id)
        written = self.prompt_variants(run_id)
        if not used and not written:
            return []
        variants = [PromptVariantRecord(BASE_VARIANT, ""), *written]
        return [VariantStats(v, *used.get(v.name, (0, 0, 0, None))) for v in variants]

    def proposals_with_candidates(self, run_id: int) -> list[tuple[int | None, ProposalRecord]]:
        """Every call in iteration order with the id of the candidate it produced (None: uncommitted).

        One read for reports: prompts and responses are loaded once.
        """
        with self._sessions() as session:
            made = dict(
                session.execute(
                    select(m.Candidate.proposal_id, m.Candidate.id)
                    .where(m.Candidate.run_id == run_id, m.Candidate.proposal_id.is_not(None))
                ).all()
            )
            rows = session.scalars(
                select(m.Proposal).where(m.Proposal.run_id == run_id).order_by(m.Proposal.iteration, m.Proposal.id)
            )
            return [(made.get(p.id), proposal_record(p)) for p in rows]

    def model_usage(self, run_id: int) -> list[dict]:
        """Per model: calls, tokens, dollars, retries, unpriced and prompt-writing calls, failures by reason."""
        with self._sessions() as session:
            return reporting.model_usage(session, run_id)
