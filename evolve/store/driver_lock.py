"""Who drives a run in a store that several machines share (PostgreSQL): an advisory lock held on
the driving process's own connection.

A lock file only speaks for one machine: a teammate's `status` elsewhere would show a live run as
stopped, and their `resume` would start a second driver. The server releases an advisory lock
when its connection ends (kill -9 and a lost machine included), so a killed run shows as stopped
everywhere and may be resumed from anywhere. A SQLite store is one machine's file: no lock here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

RUN_LOCK_CLASS = 0x65766F6C  # "evol": evolve's runs use advisory keys (this class, run id)


def shared(engine: Engine) -> bool:
    """Whether this store can hold a run's driver lock itself."""
    return engine.dialect.name == "postgresql"


@contextmanager
def held(engine: Engine, run_id: int) -> Iterator[bool]:
    """Hold the run's lock while inside; yields False (holding nothing) if another process has it."""
    with engine.connect() as conn:
        got = conn.scalar(text("SELECT pg_try_advisory_lock(:c, :r)"), {"c": RUN_LOCK_CLASS, "r": run_id})
        conn.commit()  # idle, not idle in a transaction, for the whole run
        try:
            yield bool(got)
        finally:
            if got:
                _release(conn, run_id)


def _release(conn: Connection, run_id: int) -> None:
    """Unlock; if the connection is gone (the server restarted, the run is ending because the store
    stopped answering), the server already let go: close it rather than raise over the real error."""
    try:
        conn.execute(text("SELECT pg_advisory_unlock(:c, :r)"), {"c": RUN_LOCK_CLASS, "r": run_id})
        conn.commit()
    except SQLAlchemyError:
        conn.invalidate()  # never back to the pool still holding the lock


def taken(engine: Engine, run_id: int) -> bool:
    """Whether some process (on any machine) holds the run's lock right now."""
    with engine.connect() as conn:
        return bool(
            conn.scalar(
                text(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    " AND classid = :c AND objid = :r AND objsubid = 2)"
                ),
                {"c": RUN_LOCK_CLASS, "r": run_id},
            )
        )
