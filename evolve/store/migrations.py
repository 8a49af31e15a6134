"""Named schema migrations, recorded in the database so every store knows its own schema."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, inspect, select

from evolve.store.models import Base, SchemaMigration


def _initial(engine: Engine) -> None:
    Base.metadata.create_all(engine)


MIGRATIONS: tuple[tuple[str, Callable[[Engine], None]], ...] = (("0001_initial", _initial),)


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
