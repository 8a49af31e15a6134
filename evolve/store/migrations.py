"""Named schema migrations, recorded in the database so every store knows its own schema."""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, inspect, select, text

from evolve.store.models import Base, PromptVariant, SchemaMigration

MIGRATION_LOCK_KEY = 0x65766F6C7665  # "evolve": one key for every evolve store in a database


def _initial(engine: Engine) -> None:
    Base.metadata.create_all(engine)


def _llm_call_details(engine: Engine) -> None:
    """Proposals gain the operator used, every attempt of the call, and whether it had a price."""
    have = {c["name"] for c in inspect(engine).get_columns("proposals")}
    added = {
        "operator": "VARCHAR(32) NOT NULL DEFAULT ''",
        "attempts": "JSON",
        "priced": "BOOLEAN NOT NULL DEFAULT TRUE",
    }
    with engine.begin() as conn:
        for name, ddl in added.items():
            if name not in have:
                conn.execute(text(f"ALTER TABLE proposals ADD COLUMN {name} {ddl}"))


def _prompt_evolution(engine: Engine) -> None:
    """Proposals gain the candidate they were asked to improve and the system-prompt variant they
    used, candidates their improvement over the parent; prompt variants get their own table."""
    added = {
        "proposals": {"parent_id": "INTEGER", "prompt_variant": "VARCHAR(64) NOT NULL DEFAULT ''"},
        "candidates": {"improvement": "FLOAT"},
    }
    with engine.begin() as conn:
        for table, columns in added.items():
            have = {c["name"] for c in inspect(conn).get_columns(table)}
            for name, ddl in columns.items():
                if name not in have:
                    conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"))
    PromptVariant.__table__.create(engine, checkfirst=True)


def _commit_order(engine: Engine) -> None:
    """Candidates gain their commit position (the order the population took them in: with LLM
    calls and evaluations finishing out of order it is not the iteration order) and the position
    their plan had seen. Earlier runs committed in iteration order: their position is the iteration.
    The (run, position) index serves resume, which replays the lineage in that order."""
    have = {c["name"] for c in inspect(engine).get_columns("candidates")}
    with engine.begin() as conn:
        for name in ("position", "seen_upto"):
            if name not in have:
                conn.execute(text(f"ALTER TABLE candidates ADD COLUMN {name} INTEGER"))
        conn.execute(text("UPDATE candidates SET position = iteration WHERE position IS NULL"))
        conn.execute(text("CREATE INDEX IF NOT EXISTS ix_candidates_position ON candidates (run_id, position)"))


# Indexes for the reads that must stay flat at 100k candidates, each chosen from the query plan
# (benchmarks/controller_scale.py; EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL).
# SQLite keeps a row's columns together and reaches any column after `code` (or after a prompt)
# through the row's overflow pages, so there the indexes also cover the columns each query reads;
# PostgreSQL moves long text out of line (TOAST), so its heap rows stay small and plain indexes do.
REPORTING_INDEXES = {
    # proposals -> the candidate each made (per-model usage, prompt-variant record): without it
    # the join scanned every candidate once per call (quadratic: 300 s at 10k)
    "ix_candidates_proposal": "candidates (proposal_id, status, failure_reason, improvement)",
    # candidates by status and by failure reason, and the valid scores in commit order (status)
    "ix_candidates_status": "candidates (run_id, status, position, score, failure_reason)",
    # exact and near duplicates up to a plan's snapshot, looked up in the store instead of memory
    "ix_candidates_code": "candidates (run_id, code_hash, position)",
    "ix_candidates_norm": "candidates (run_id, norm_hash, position)",
}
SQLITE_ONLY_INDEXES = {
    # calls, tokens, dollars, retries and variants per model without reading prompts and answers
    "ix_proposals_usage": "proposals (run_id, model, operator, priced, prompt_variant, tokens_in, tokens_out, cost_usd, attempts)",
}


def _reporting_indexes(engine: Engine) -> None:
    indexes = dict(REPORTING_INDEXES, **(SQLITE_ONLY_INDEXES if engine.dialect.name == "sqlite" else {}))
    with engine.begin() as conn:
        for name, target in indexes.items():
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {target}"))


MIGRATIONS: tuple[tuple[str, Callable[[Engine], None]], ...] = (
    ("0001_initial", _initial),
    ("0002_llm_call_details", _llm_call_details),
    ("0003_prompt_evolution", _prompt_evolution),
    ("0004_commit_order", _commit_order),
    ("0005_reporting_indexes", _reporting_indexes),
)


def migrate(engine: Engine) -> list[str]:
    """Apply the migrations this database has not seen yet; return their names. Several processes
    opening one store at once (a team's runs starting together) take turns."""
    if _pending(engine) == []:
        return []
    with _one_at_a_time(engine):
        if not inspect(engine).has_table(SchemaMigration.__tablename__):
            SchemaMigration.__table__.create(engine)
        with engine.begin() as conn:
            done = set(conn.scalars(select(SchemaMigration.name)))
        applied = []
        for name, step in MIGRATIONS:
            if name in done:
                continue
            step(engine)
            with engine.begin() as conn:
                conn.execute(SchemaMigration.__table__.insert().values(name=name))
            applied.append(name)
        return applied


def _pending(engine: Engine) -> list[str] | None:
    """The migrations not yet applied (None: no migration table yet), without taking the lock."""
    if not inspect(engine).has_table(SchemaMigration.__tablename__):
        return None
    with engine.begin() as conn:
        done = set(conn.scalars(select(SchemaMigration.name)))
    return [name for name, _ in MIGRATIONS if name not in done]


@contextmanager
def _one_at_a_time(engine: Engine):
    """PostgreSQL: a session advisory lock; a SQLite file: a lock file (in the temp folder) named
    after it; else nothing."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                conn.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    key = hashlib.sha256(str(Path(database).resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"evolve-migrate-{key}.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield
