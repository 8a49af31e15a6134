"""Where runs live (a folder per run under --runs-dir, or any --db store): finding, creating,
listing and locking them, and telling whether a run's process is still alive.

The lock says who drives a run: a "running" run whose lock nobody holds was killed (kill -9, a
crash), and shows as stopped. A --db run makes no folder; its lock lives in the temp folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shlex
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from evolve.errors import ConfigError, RunNotFound, UserError
from evolve.problem import Problem
from evolve.store import RunInfo, Store, default_db_url
from evolve.store.database_url import shown

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
DEFAULT_RUNS_DIR = Path("runs")


@dataclass(frozen=True)
class RunPlace:
    """The --runs-dir and --db a command was given."""

    runs_dir: Path = DEFAULT_RUNS_DIR
    db: str | None = None

    def options(self) -> str:
        """The options a hint must repeat to reach the same run (none for the defaults)."""
        parts = [] if self.runs_dir == DEFAULT_RUNS_DIR else ["--runs-dir", str(self.runs_dir)]
        parts += [] if self.db is None else ["--db", shown(self.db)]
        return "".join(f" {shlex.quote(p)}" for p in parts)

    def lock_file(self, run_dir: Path, name: str) -> Path:
        if self.db is None:
            return run_dir / "run.lock"
        key = hashlib.sha256(f"{self.db}\0{name}".encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"evolve-run-{key}.lock"


@dataclass(frozen=True)
class RunHandle:
    store: Store
    run: RunInfo
    run_dir: Path
    place: RunPlace = RunPlace()

    @property
    def lock_file(self) -> Path:
        return self.place.lock_file(self.run_dir, self.run.name)

    def refreshed(self) -> "RunHandle":
        return replace(self, run=self.store.run(self.run.name))

    def hint(self, command: str) -> str:
        return hint(command, self.run.name, self.place)

    @property
    def where(self) -> str:
        """Where the run is kept, for the user: its folder, or the --db store."""
        return f"run folder: {self.run_dir}" if self.place.db is None else f"store: {shown(self.place.db)}"


def hint(command: str, name: str, place: RunPlace) -> str:
    """e.g. `evolve export NAME --db URL`: a next step that reaches this same run."""
    return f"evolve {command} {name}{place.options()}"


def new_run_name(problem: Problem) -> str:
    return f"{problem.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(f"run name {name!r} may only use letters, digits, '.', '_' and '-'")
    return name


def check_new(place: RunPlace, name: str) -> Path:
    """The new run's folder; UserError if the name is malformed or a run of that name is there."""
    run_dir = place.runs_dir / check_name(name)
    if place.db is None and (run_dir / "evolve.db").exists():
        raise UserError(f"run {name!r} already exists in {run_dir}; use 'evolve resume {name}' or another --name")
    return run_dir


def create_run(problem: Problem, config: dict, place: RunPlace, name: str) -> RunHandle:
    run_dir = check_new(place, name)
    if place.db is None:
        run_dir.mkdir(parents=True, exist_ok=True)
    store = Store(place.db or default_db_url(run_dir))
    run = store.create_run(name, problem.name, str(problem.root), problem.version(), config)
    return RunHandle(store, run, run_dir, place)


def open_run(ref: str, place: RunPlace) -> RunHandle:
    """Find a run by name (under runs_dir, or in --db) or by the path of its folder."""
    as_path = Path(ref)
    if place.db is None:
        run_dir = as_path if (as_path / "evolve.db").is_file() else place.runs_dir / ref
        if not (run_dir / "evolve.db").is_file():
            raise RunNotFound(f"no run {ref!r}: expected {run_dir / 'evolve.db'} (see --runs-dir, --db)")
        store = Store(default_db_url(run_dir))
        runs = store.runs()
        if not runs:
            raise RunNotFound(f"{run_dir / 'evolve.db'} holds no run")
        return RunHandle(store, runs[0], run_dir, place)
    store = Store(place.db)
    run = store.run(as_path.name)
    return RunHandle(store, run, place.runs_dir / run.name, place)


@dataclass(frozen=True)
class Unreadable:
    """A run folder whose store cannot be opened (corrupt, foreign, unreadable)."""

    folder: Path
    reason: str


def list_runs(place: RunPlace) -> tuple[list[RunHandle], list[Unreadable]]:
    """Every run in --db, or in each run folder under runs_dir; a broken folder does not hide the rest."""
    if place.db is not None:
        store = Store(place.db)
        return [RunHandle(store, run, place.runs_dir / run.name, place) for run in store.runs()], []
    found, broken = [], []
    for db_file in sorted(place.runs_dir.glob("*/evolve.db")):
        try:
            store = Store(default_db_url(db_file.parent))
            found.extend(RunHandle(store, run, db_file.parent, place) for run in store.runs())
        except UserError as exc:
            broken.append(Unreadable(db_file.parent, str(exc)))
    return found, broken


def shown_state(handle: RunHandle) -> str:
    """The stored state, except that a "running" run nobody drives was killed: it is stopped."""
    if handle.run.state == "running" and not _driven(handle):
        return "stopped"
    return handle.run.state


def _driven(handle: RunHandle) -> bool:
    """Asked of the store where machines share it (PostgreSQL), else of this machine's lock file."""
    in_store = handle.store.driven(handle.run.id)
    return driven(handle.lock_file) if in_store is None else in_store


def driven(lock_file: Path) -> bool:
    """Whether a process holds this run's lock right now."""
    try:
        with open(lock_file, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


@contextmanager
def run_lock(handle: RunHandle):
    """One process drives a run at a time; a second `run`/`resume` of it fails with one line. A
    shared store (PostgreSQL) also holds the lock itself, for the processes of other machines."""
    handle.lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(handle.lock_file, "w") as held:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"run {handle.run.name} is being driven by another process right now") from None
        with handle.store.driving(handle.run.id) as got:
            if not got:
                raise UserError(f"run {handle.run.name} is being driven by another process (on another machine) right now")
            yield
