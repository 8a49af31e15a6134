"""The development backend: each job's candidate server in a plain subprocess, with rlimits.

It does NOT isolate. The candidate runs as your user (root, if you are root): it can read your
files and reach the network, and escape the process group with setsid. What it cannot do is
touch the score: the evaluator runs in another process (the trusted worker, not dumpable, like
the controller when this backend is chosen, so a same-user process cannot read their memory,
environment or descriptors), and only plain data comes back over the job's socket. Use it for
trusted code and for developing evaluators.
"""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from sandboxes import framing
from sandboxes.base import Limits
from sandboxes.box import JobEnd
from sandboxes.errors import SandboxUnavailable

SERVER = ("-s", "-P", "-m", "sandboxes.candidate_server")  # not -I: it would ignore PYTHONHASHSEED below
OPEN_FILES = 256
MB = 1024 * 1024
KILL_SECONDS = 2.0
PR_SET_PDEATHSIG = 1


class ProcessBackend:
    name = "process"
    note = "NOT isolated: candidates can read your files and reach the network; development only"
    max_uses = 1_000_000  # a box here is only a factory: every job is a fresh process

    def __init__(self, python: str = sys.executable, work_root: str | None = None, packages: str | None = None):
        """packages: a folder of the problem's sandbox packages, put first on the candidate's path."""
        self._python, self._work_root, self._packages = python, work_root, packages

    def open(self, limits: Limits) -> "ProcessBox":
        return ProcessBox(self._python, self._work_root, self._packages)


class ProcessBox:
    def __init__(self, python: str, work_root: str | None, packages: str | None = None):
        self._python, self._work_root, self._packages = python, work_root, packages
        self.uses = 0
        self.broken = False

    def start(self, limits: Limits) -> "ProcessJob":
        self.uses += 1
        try:
            root = tempfile.mkdtemp(prefix="evolve-job-", dir=self._work_root)
            workdir = os.path.join(root, "work")
            os.mkdir(workdir)
        except OSError as exc:
            raise SandboxUnavailable(f"cannot create a work dir: {exc}") from exc
        ours, theirs = framing.channel_pair()
        output = open(os.path.join(root, "output"), "wb")
        try:
            proc = subprocess.Popen(
                [self._python, *SERVER, "--fd", str(theirs.fileno())], stdin=subprocess.DEVNULL, stdout=output,
                stderr=output, cwd=workdir, env=scrubbed_env(workdir, self._packages), start_new_session=True,
                pass_fds=(theirs.fileno(),), preexec_fn=_die_with_parent,
            )  # fmt: skip
        except OSError as exc:
            ours.close()
            shutil.rmtree(root, ignore_errors=True)
            raise SandboxUnavailable(f"cannot start the candidate's process: {exc}") from exc
        finally:
            theirs.close()
            output.close()
        try:  # the server waits for its code on the socket, so nothing untrusted runs before this
            set_limits(proc.pid, limits)
        except (OSError, ValueError) as exc:
            _kill_group(proc.pid)
            raise SandboxUnavailable(f"cannot set rlimits: {exc}") from exc
        return ProcessJob(proc, ours, root, limits, time.monotonic())

    def close(self) -> None:
        """Nothing outlives a job here."""


class ProcessJob:
    def __init__(self, proc: subprocess.Popen, sock: socket.socket, root: str, limits: Limits, started: float):
        self.proc, self.sock, self.root, self.limits, self.started = proc, sock, root, limits, started

    def end(self) -> JobEnd:
        self.sock.close()
        exited = self.proc.poll() is not None
        _kill_group(self.proc.pid)
        try:
            returncode = self.proc.wait(KILL_SECONDS)
        except subprocess.TimeoutExpired:
            returncode = None
        stderr = _tail(os.path.join(self.root, "output"), self.limits.stderr_tail_bytes)
        shutil.rmtree(self.root, ignore_errors=True)
        return JobEnd(returncode, "exit" if exited else "host", False, True, stderr, time.monotonic() - self.started)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the trusted worker that started it dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _tail(path: str, size: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - size))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def scrubbed_env(workdir: str, packages: str | None = None) -> dict[str, str]:
    """Nothing from the host environment (no API keys); threads pinned for fair, stable timings;
    the problem's sandbox packages, if any, first on the path."""
    return {**({"PYTHONPATH": packages} if packages else {}),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": workdir,
        "TMPDIR": workdir,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def limit_values(limits: Limits) -> dict[int, tuple[int, int]]:
    values = {
        resource.RLIMIT_AS: (limits.memory_mb * MB, limits.memory_mb * MB),
        resource.RLIMIT_CPU: (limits.cpu_seconds, limits.cpu_seconds + 1),  # SIGXCPU first, SIGKILL 1 s later
        resource.RLIMIT_FSIZE: (limits.max_file_mb * MB, limits.max_file_mb * MB),
        resource.RLIMIT_NOFILE: (OPEN_FILES, OPEN_FILES),
        resource.RLIMIT_CORE: (0, 0),
    }
    if hasattr(resource, "RLIMIT_NPROC"):
        values[resource.RLIMIT_NPROC] = (limits.max_processes, limits.max_processes)
    return values


def capped(wanted: tuple[int, int], current_hard: int) -> tuple[int, int]:
    """An unprivileged process cannot raise a hard limit: stay under the one it already has."""
    soft, hard = wanted
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
        soft = min(soft, hard)
    return soft, hard


def set_limits(pid: int, limits: Limits) -> None:
    """Linux: set the child's limits from outside, so no Python runs between fork and exec."""
    for which, wanted in limit_values(limits).items():
        resource.prlimit(pid, which, capped(wanted, resource.prlimit(pid, which)[1]))
