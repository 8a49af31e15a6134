"""`evolve ...` in a process of its own, started the way every test that signals or kills a run
needs it: in a new session (a test can signal the whole group) and with Ctrl-C delivered as from
a terminal, whatever this test process inherited (a suite started in the background of a script
ignores SIGINT, and an ignored or blocked SIGINT is inherited across exec)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable


def as_from_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def evolve_process(*args: str, cwd, env: dict | None = None, preexec: Callable[[], None] | None = None) -> subprocess.Popen:
    def before_exec() -> None:
        as_from_a_terminal()
        if preexec:
            preexec()

    return subprocess.Popen(
        [sys.executable, "-m", "evolve.cli", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True, text=True, preexec_fn=before_exec,
    )  # fmt: skip
