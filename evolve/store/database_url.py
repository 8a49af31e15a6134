"""From the URL a user gave (`--db`) to an engine: each dialect's settings, the URL as shown in
messages (password masked), and the driver's refusal as one line (exit 2, not a traceback).

A team's shared PostgreSQL store is reached over the network, so a server that does not answer
must fail in seconds rather than hang a command for minutes.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from evolve.errors import UserError

CONNECT_TIMEOUT_S = 10
POSTGRES_DRIVER = "postgresql+psycopg"  # psycopg 3, the `postgres` extra
POSTGRES_EXTRA = "pip install 'evolve-systems[postgres]'"


def as_url(value: str) -> str:
    """What `--db` was given, as a URL: a value without `://` is a SQLite file's path (`runs.db`,
    `~/evolve/team.db`), since that is what a user who types a file name means."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def shown(url: str) -> str:
    """The URL for messages and hints, without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # unparseable (a port that is no number...): mask by shape
        return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def one_line(exc: BaseException) -> str:
    """The database's reason for an error (libpq spreads it over several lines), on one line."""
    return " ".join(str(getattr(exc, "orig", None) or exc).split())


def open_engine(url: str) -> Engine:
    """An engine for any SQLAlchemy URL; a URL we cannot use is a UserError naming why."""
    parsed = _parsed(url)
    try:
        engine = create_engine(parsed, **_engine_options(parsed))
    except ImportError as exc:
        hint = f"; {POSTGRES_EXTRA}" if parsed.get_backend_name() == "postgresql" else ""
        raise UserError(f"cannot use database URL {shown(url)!r}: no driver ({exc}){hint}") from None
    except (SQLAlchemyError, ValueError) as exc:
        raise UserError(f"cannot use database URL {shown(url)!r}: {one_line(exc)}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "before_cursor_execute", _without_nul, retval=True)
    return engine


def _parsed(url: str) -> URL:
    """The URL, with a bare `postgresql://` (or `postgres://`) meaning our psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise UserError(f"cannot use database URL {shown(url)!r}: {one_line(exc)}") from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername=POSTGRES_DRIVER)
    return parsed


def _engine_options(url: URL) -> dict:
    """A server reached over the network: connecting gives up after a while, and a pooled
    connection the server dropped (a restart, an idle timeout) is replaced before use instead of
    failing the next commit (a ping: about 0.06 ms per transaction on a local server).

    Commits do not wait for the server's disk (synchronous_commit=off: 0.2 ms instead of 7 ms per
    iteration here), as SQLite's WAL with synchronous=NORMAL does not: a kill of `evolve` loses
    nothing committed; a crash of the server itself may lose its last fraction of a second, which
    the store never sees half-written and `resume` does again. The URL's own `options` win."""
    if url.get_backend_name() != "postgresql":
        return {}
    args = {} if "connect_timeout" in url.query else {"connect_timeout": CONNECT_TIMEOUT_S}
    if "options" not in url.query:
        args["options"] = "-c synchronous_commit=off"
    return {"connect_args": args, "pool_pre_ping": True}


NUL, NUL_STORED_AS = "\x00", "\ufffd"


def _without_nul(_conn, _cursor, statement, parameters, _context, _executemany):
    """PostgreSQL text cannot hold a NUL character, but an LLM's answer, a candidate's code or its
    output can: store U+FFFD in its place rather than refuse (and end) the run over it. (Code with
    NUL never compiles, so no valid candidate changes.)"""
    return statement, _nul_replaced(parameters)


def _nul_replaced(value):
    if isinstance(value, str):
        return value.replace(NUL, NUL_STORED_AS) if NUL in value else value
    if isinstance(value, dict):
        return {key: _nul_replaced(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_nul_replaced(item) for item in value)
    return value


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
