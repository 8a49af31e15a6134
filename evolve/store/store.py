"""The Store: the one writer of a run's lineage. Any SQLAlchemy URL; SQLite (WAL) by default.

Every iteration is committed in a single transaction (proposal, candidate, evaluations, cursor),
so a crash or kill -9 leaves either the whole iteration or none of it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

from sqlalchemy import create_engine, delete, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from evolve.errors import RunNotFound, UserError
from evolve.store import models as m
from evolve.store.migrations import migrate
from evolve.store.records import CandidateRecord, EvaluationRecord, ProposalRecord, ReferenceRecord, RunInfo

DB_FILENAME = "evolve.db"


def default_db_url(run_dir: Path) -> str:
    return f"sqlite:///{(run_dir / DB_FILENAME).resolve()}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Store:
    def __init__(self, url: str):
        try:
            self._engine: Engine = create_engine(url)
        except (SQLAlchemyError, ValueError, ImportError) as exc:
            raise UserError(f"cannot use database URL {url!r}: {exc}") from exc
        if self._engine.dialect.name == "sqlite":
            event.listen(self._engine, "connect", _sqlite_pragmas)
        try:
            migrate(self._engine)
        except SQLAlchemyError as exc:
            reason = getattr(exc, "orig", None) or exc
            raise UserError(f"cannot open database {url!r}: {reason}") from exc
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self.url = url

    def close(self) -> None:
        self._engine.dispose()

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
        with self._sessions.begin() as session:
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:
                raise UserError(f"a run named {name!r} already exists in this store") from exc
            return _run_info(row)

    def run(self, name: str) -> RunInfo:
        with self._sessions() as session:
            row = session.scalar(select(m.Run).where(m.Run.name == name))
            if row is None:
                raise RunNotFound(f"no run named {name!r} in {self.url}")
            return _run_info(row)

    def runs(self) -> list[RunInfo]:
        with self._sessions() as session:
            return [_run_info(r) for r in session.scalars(select(m.Run).order_by(m.Run.id))]

    def set_state(self, run_id: int, state: str) -> None:
        with self._sessions.begin() as session:
            session.get_one(m.Run, run_id).state = state

    def set_config(self, run_id: int, config: dict) -> None:
        with self._sessions.begin() as session:
            session.get_one(m.Run, run_id).config = config

    # references (baselines) --------------------------------------------------------------------

    def save_references(self, run_id: int, refs: list[ReferenceRecord]) -> None:
        """Replace the run's reference scores (a restarted start must not add a second set)."""
        with self._sessions.begin() as session:
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
        """Store one iteration atomically and advance the run's cursor to it."""
        with self._sessions.begin() as session:
            proposal_id = None
            if proposal is not None:
                prow = _proposal_row(run_id, candidate.iteration, proposal)
                session.add(prow)
                session.flush()
                proposal_id = prow.id
            crow = _candidate_row(run_id, candidate, proposal_id)
            session.add(crow)
            session.flush()
            for ev in candidate.evaluations:
                session.add(m.Evaluation(candidate_id=crow.id, **ev.__dict__))
            run = session.get_one(m.Run, run_id)
            run.iterations_done = candidate.iteration
            if new_best:
                run.best_candidate_id = crow.id
            cid = crow.id
        return _with_id(candidate, cid)

    def candidates(self, run_id: int) -> list[CandidateRecord]:
        """Every candidate of a run in iteration order, with its evaluations."""
        with self._sessions() as session:
            rows = list(session.scalars(select(m.Candidate).where(m.Candidate.run_id == run_id).order_by(m.Candidate.iteration)))
            evals = _evaluations_by_candidate(session, [r.id for r in rows])
            return [_candidate_record(r, evals.get(r.id, ())) for r in rows]

    def candidate(self, candidate_id: int) -> CandidateRecord:
        with self._sessions() as session:
            row = session.get(m.Candidate, candidate_id)
            if row is None:
                raise RunNotFound(f"no candidate {candidate_id}")
            return _candidate_record(row, _evaluations_by_candidate(session, [row.id]).get(row.id, ()))

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
            by_status = Counter(
                dict(
                    session.execute(
                        select(m.Candidate.status, func.count()).where(m.Candidate.run_id == run_id).group_by(m.Candidate.status)
                    ).all()
                )
            )
            by_reason = Counter(
                dict(
                    session.execute(
                        select(m.Candidate.failure_reason, func.count())
                        .where(m.Candidate.run_id == run_id, m.Candidate.failure_reason.is_not(None))
                        .group_by(m.Candidate.failure_reason)
                    ).all()
                )
            )
        return by_status, by_reason

    def proposal_totals(self, run_id: int) -> dict[str, float]:
        """Calls, tokens and dollars summed in SQL (prompts and responses stay on disk)."""
        with self._sessions() as session:
            calls, tokens_in, tokens_out, cost = session.execute(
                select(
                    func.count(m.Proposal.id),
                    func.coalesce(func.sum(m.Proposal.tokens_in), 0),
                    func.coalesce(func.sum(m.Proposal.tokens_out), 0),
                    func.coalesce(func.sum(m.Proposal.cost_usd), 0.0),
                ).where(m.Proposal.run_id == run_id)
            ).one()
        return {"calls": calls, "tokens_in": tokens_in, "tokens_out": tokens_out, "cost_usd": float(cost)}

    def proposals(self, run_id: int) -> list[ProposalRecord]:
        """Every call, committed or not, in iteration order."""
        with self._sessions() as session:
            rows = session.scalars(
                select(m.Proposal).where(m.Proposal.run_id == run_id).order_by(m.Proposal.iteration, m.Proposal.id)
            )
            return [_proposal_record(r) for r in rows]

    def valid_scores(self, run_id: int) -> list[float]:
        """Train scores of valid candidates after the seed, in iteration order."""
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(m.Candidate.score)
                    .where(m.Candidate.run_id == run_id, m.Candidate.iteration > 0, m.Candidate.status == "valid")
                    .where(m.Candidate.score.is_not(None))
                    .order_by(m.Candidate.iteration)
                )
            )

    def save_uncommitted_proposals(self, run_id: int, items: list[tuple[int, ProposalRecord]]) -> None:
        """Calls made for iterations a stop cancelled: paid for, so kept (with no candidate)."""
        if not items:
            return
        with self._sessions.begin() as session:
            session.add_all(_proposal_row(run_id, iteration, p) for iteration, p in items)

    def committed_proposals(self, run_id: int) -> dict[int, ProposalRecord]:
        """iteration -> the call that produced that iteration's candidate."""
        with self._sessions() as session:
            rows = session.execute(
                select(m.Candidate.iteration, m.Proposal)
                .join(m.Proposal, m.Candidate.proposal_id == m.Proposal.id)
                .where(m.Candidate.run_id == run_id)
            ).all()
            return {iteration: _proposal_record(p) for iteration, p in rows}

    def proposals_with_candidates(self, run_id: int) -> list[tuple[int | None, ProposalRecord]]:
        """Every call in iteration order with the id of the candidate it produced (None: uncommitted).

        One read for reports: prompts and responses are loaded once. Matched in Python, not by an
        outer join, because candidates.proposal_id has no index (the join was quadratic).
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
            return [(made.get(p.id), _proposal_record(p)) for p in rows]

    def model_usage(self, run_id: int) -> list[dict]:
        """Per model: calls, tokens, dollars, retries, unpriced calls, and failures by reason."""
        with self._sessions() as session:
            rows = session.execute(
                select(
                    m.Proposal.model,
                    m.Proposal.tokens_in,
                    m.Proposal.tokens_out,
                    m.Proposal.cost_usd,
                    m.Proposal.attempts,
                    m.Proposal.priced,
                    m.Candidate.failure_reason,
                    m.Candidate.id,
                )
                .outerjoin(m.Candidate, m.Candidate.proposal_id == m.Proposal.id)
                .where(m.Proposal.run_id == run_id)
            ).all()
        usage: dict[str, dict] = {}
        for model, t_in, t_out, cost, attempts, priced, reason, cid in rows:
            u = usage.setdefault(
                model,
                {"model": model, "calls": 0, "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0,
                 "retries": 0, "unpriced_calls": 0, "failures": Counter()},
            )
            u["calls"] += 1
            u["tokens_in"] += t_in
            u["tokens_out"] += t_out
            u["cost_usd"] += cost
            u["retries"] += max(0, len(attempts or []) - 1)
            u["unpriced_calls"] += 0 if priced else 1
            if cid is None:
                u["failures"]["uncommitted"] += 1
            elif reason:
                u["failures"][reason] += 1
        return [dict(u, failures=dict(u["failures"])) for _, u in sorted(usage.items())]


def _run_info(row: m.Run) -> RunInfo:
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
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _candidate_row(run_id: int, c: CandidateRecord, proposal_id: int | None) -> m.Candidate:
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
        features=dict(c.features),
    )


def _evaluations_by_candidate(session: Session, ids: list[int]) -> dict[int, tuple[EvaluationRecord, ...]]:
    out: dict[int, list[EvaluationRecord]] = {}
    if not ids:
        return {}
    rows = session.scalars(select(m.Evaluation).where(m.Evaluation.candidate_id.in_(ids)).order_by(m.Evaluation.id))
    for r in rows:
        out.setdefault(r.candidate_id, []).append(
            EvaluationRecord(r.stage, dict(r.metrics), r.valid, r.reason, r.feedback, r.error, r.seconds)
        )
    return {k: tuple(v) for k, v in out.items()}


def _candidate_record(r: m.Candidate, evaluations: tuple[EvaluationRecord, ...]) -> CandidateRecord:
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
        features=dict(r.features or {}),
        evaluations=evaluations,
    )


def _proposal_record(r: m.Proposal) -> ProposalRecord:
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
    )


def _proposal_row(run_id: int, iteration: int, p: ProposalRecord) -> m.Proposal:
    fields = {k: v for k, v in p.__dict__.items() if k not in ("iteration", "attempts")}
    return m.Proposal(run_id=run_id, iteration=iteration, attempts=list(p.attempts), **fields)


def _with_id(candidate: CandidateRecord, cid: int) -> CandidateRecord:
    return replace(candidate, id=cid)
