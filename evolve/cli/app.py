"""The Typer app and what its commands share: options, consoles, number formats.

Only the cli package imports typer; every command parses, calls the library, prints.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from evolve.run_folders import DEFAULT_RUNS_DIR, RunPlace
from evolve.store.database_url import as_url

app = typer.Typer(
    help="Evolve systems policies with LLMs (or the offline mutator), scored in sandboxes, stored in SQLite.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)

RunsDir = Annotated[
    Path, typer.Option("--runs-dir", envvar="EVOLVE_RUNS_DIR", help="Folder holding one sub-folder per run.")
]
DbUrl = Annotated[
    Optional[str], typer.Option("--db", help="SQLAlchemy URL of the store, or a SQLite file's path (default: SQLite in the run folder).")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
SandboxOpt = Annotated[
    Optional[str],
    typer.Option(
        help="Sandbox backend: auto (docker, else bwrap, else process), docker, bwrap or process. "
        "Default: the problem's [run] sandbox, else $EVOLVE_SANDBOX, else auto."
    ),
]
RunRef = Annotated[str, typer.Argument(metavar="RUN", help="Run name or run folder.")]
OrderOpt = Annotated[
    Optional[str],
    typer.Option(
        help="iteration: plan and commit in iteration order (exactly reproducible with the offline mutator); "
        "completion: commit as evaluations finish, recording what each plan saw (default with live LLMs)."
    ),
]
ExecutorOpt = Annotated[
    Optional[str], typer.Option(help="Where evaluations run: local (default) or ray (a Ray cluster; see --ray-address).")
]
RayAddressOpt = Annotated[
    Optional[str],
    typer.Option("--ray-address", help="With --executor ray: an existing cluster (HOST:PORT); default: start a local Ray."),
]
WIDE = 240  # piped output: long run names and paths are not cut at 80 columns


def console() -> Console:
    """stdout; when piped, wide enough that tables keep whole names."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else WIDE)


def err_console() -> Console:
    return Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else WIDE)


def place(runs_dir: Path = DEFAULT_RUNS_DIR, db: str | None = None) -> RunPlace:
    """Where the command's runs live; a --db path becomes its SQLite URL here, so a run's lock and
    its "next" hints name one store however the path was written."""
    return RunPlace(runs_dir, None if db is None else as_url(db))


def sandbox_default(problem_default: str | None) -> dict:
    """The settings layers for the sandbox, weakest first: $EVOLVE_SANDBOX, then the problem's."""
    return {"sandbox": os.environ.get("EVOLVE_SANDBOX")}, {"sandbox": problem_default}


def num(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
