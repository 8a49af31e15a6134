"""Named schema migrations, recorded in the database so every store knows its own schema."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, inspect, select, text

from evolve.store.models import Base, PromptVariant, SchemaMigration


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
    """Apply the migrations this database has not seen yet; return their names."""
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
