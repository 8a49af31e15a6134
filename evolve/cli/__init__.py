"""The `evolve` command: thin commands over the library; user mistakes are one line and exit 2.

Commands live by what they do: run_commands (run, resume), look (status, best, show, candidates,
export, report), problem_commands (eval, check, problems) and sandbox (build, check).
"""

from __future__ import annotations

import sys

import typer

from evolve.cli import run_commands, look, problem_commands  # noqa: F401, I001 - they register their commands, in help order
from evolve.cli.app import app
from evolve.cli.sandbox import sandbox_app
from evolve.errors import EvolveError, UserError
from sandboxes.errors import SandboxUnavailable

app.add_typer(sandbox_app, name="sandbox")

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user mistakes into one line and exit code 2."""
    code = _main(argv)
    if code == 130:
        _forget_caught_interrupt()
    return code


def _forget_caught_interrupt() -> None:
    """CPython marks a KeyboardInterrupt that ended a string exec (e.g. a dataclass being built
    during a lazy import when a second Ctrl-C lands) as unhandled even once caught, and then
    ends `python -m` by killing itself with SIGINT instead of exiting 130. A string exec resets
    that mark."""
    exec("pass", {})


def _main(argv: list[str] | None) -> int:
    try:
        code = app(args=argv, prog_name="evolve", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except (UserError, SandboxUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except EvolveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a path the user named: a file where a folder should be, no permission...
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except Exception as exc:
        if not _is_usage_error(exc):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message())
            return 0
        message = " ".join(exc.format_message().split())
        print(f"error: {message}" if message else "error: see 'evolve --help'", file=sys.stderr)
        return 2
    return code if isinstance(code, int) else 0


def _is_usage_error(exc: Exception) -> bool:
    """Click's exceptions (typer vendors its own copy of click, so match by shape, not class)."""
    return hasattr(exc, "format_message") and hasattr(exc, "exit_code")


if __name__ == "__main__":
    sys.exit(main())
