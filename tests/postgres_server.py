"""The PostgreSQL server for store tests: a fresh database per test, skipped when missing here,
never skipped in CI.

tests/run.sh runs tests/setup_postgres.sh (install, start, make a role that may create databases),
exports its URL as EVOLVE_TEST_POSTGRES_URL and sets EVOLVE_REQUIRE_POSTGRES=1, so in CI a server
that cannot be reached is a failure, not a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

URL_VARIABLE = "EVOLVE_TEST_POSTGRES_URL"


def required() -> bool:
    return os.environ.get("EVOLVE_REQUIRE_POSTGRES") == "1"


def _unavailable(why: str) -> None:
    if required():
        pytest.fail(f"PostgreSQL is required here (EVOLVE_REQUIRE_POSTGRES=1) but {why}")
    pytest.skip(f"PostgreSQL tests: {why}")


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database on the test server (dropped afterwards, connections and all)."""
    base = os.environ.get(URL_VARIABLE)
    if not base:
        _unavailable(f"{URL_VARIABLE} is not set (a role that may CREATE DATABASE; tests/setup_postgres.sh makes one)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[postgres]')")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    admin = create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"evolve_t_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        reason = " ".join(str(exc.orig).split())
        _unavailable(f"the server at {make_url(base).render_as_string(hide_password=True)} refused: {reason}")
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(admin, name)
        admin.dispose()


def _drop(admin, name: str) -> None:
    """Drop a test's database. FORCE ends our own connections, but not a backend of another role
    (seen once in CI: "must be a member of the role whose process is being terminated"; most
    likely an autovacuum worker started after a test's many writes), which finishes soon: retry.
    A database that still cannot be dropped is left for the server to keep, with a warning."""
    import time
    import warnings

    from sqlalchemy import text
    from sqlalchemy.exc import ProgrammingError

    for _ in range(40):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except ProgrammingError:
            time.sleep(0.5)
    warnings.warn(f"test database {name} could not be dropped (a server process of another role holds it)", stacklevel=2)
