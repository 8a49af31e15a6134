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


MIGRATIONS: tuple[tuple[str, Callable[[Engine], None]], ...] = (
    ("0001_initial", _initial),
    ("0002_llm_call_details", _llm_call_details),
    ("0003_prompt_evolution", _prompt_evolution),
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
