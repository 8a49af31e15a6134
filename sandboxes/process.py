"""The development backend: the runner in a plain subprocess with rlimits and a scrubbed environment.

It does NOT isolate. The candidate runs as your user: it can read your files (and, same uid, the
host process's /proc/<pid>/environ), use the network, and escape the process group with setsid.
RLIMIT_NPROC does not bind root, and for other users it counts all of that user's processes. Use it
for trusted code and for developing evaluators; use an isolating backend for LLM-written code.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import resource
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field

from sandboxes.base import Limits, Outcome, SandboxJob
from sandboxes.framing import END_TAG, Frames, encode_job, parse_frames

RUNNER = ("-s", "-P", "-m", "sandboxes.runner")  # not -I: it would ignore PYTHONHASHSEED below
END_GRACE_SECONDS = 1.0  # after the end marker, how long the runner gets to exit on its own
DRAIN_SECONDS = 2.0  # after the kill, how long to wait for pipes to close
EXIT_POLL_SECONDS = 0.02
OPEN_FILES = 256
MB = 1024 * 1024



class ProcessSandbox:
    """Runs each job in a fresh temp dir as `python -m sandboxes.runner`, killed as a process group."""

    name = "process"
    note = "NOT isolated: candidates can read your files and reach the network; development only"

    def __init__(self, python: str = sys.executable, work_root: str | None = None) -> None:
        self._python = python
        self._work_root = work_root

    async def run(self, job: SandboxJob, limits: Limits) -> Outcome:
        started = time.monotonic()
        problem_dir = os.path.abspath(job.evaluator.problem_dir)  # the runner's cwd is the work dir
        job = dataclasses.replace(job, evaluator=dataclasses.replace(job.evaluator, problem_dir=problem_dir))
        nonce = secrets.token_hex(16)
        try:
            payload = encode_job(job, nonce)
        except (TypeError, ValueError) as exc:
            return Outcome(failure="sandbox_error", detail=f"job does not serialise: {exc}")
        try:
            workdir = tempfile.mkdtemp(prefix="evolve-job-", dir=self._work_root)
        except OSError as exc:
            return Outcome(failure="sandbox_error", detail=f"cannot create a work dir: {exc}")
        try:
            return await self._run_in(workdir, job, payload, nonce, limits, started)
        finally:  # off the event loop: the candidate decides how many files there are
            await asyncio.to_thread(shutil.rmtree, workdir, ignore_errors=True)

    async def aclose(self) -> None:
        """Nothing outlives a run: each job's processes are killed before run() returns."""

    async def _run_in(
        self, workdir: str, job: SandboxJob, payload: bytes, nonce: str, limits: Limits, started: float
    ) -> Outcome:
        try:
            proc = await asyncio.create_subprocess_exec(
                self._python,
                *RUNNER,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=workdir,
                env=scrubbed_env(workdir),
                start_new_session=True,
                preexec_fn=None if hasattr(resource, "prlimit") else lambda: _set_own_limits(limits),
            )
        except OSError as exc:
            return Outcome(failure="sandbox_error", detail=f"cannot start the runner: {exc}")
        capture = _Capture(limit=limits.max_output_bytes, marker=f"\n{END_TAG} {nonce}\n".encode())
        tail = _Tail(limits.stderr_tail_bytes)
        readers = [
            asyncio.create_task(_drain(proc.stdout, capture.add)),
            asyncio.create_task(_drain(proc.stderr, tail.add)),
        ]
        try:
            if hasattr(resource, "prlimit"):
                try:  # the runner waits for its job on stdin, so no untrusted code runs before this
                    _set_limits(proc.pid, limits)
                except (OSError, ValueError) as exc:
                    return Outcome(failure="sandbox_error", detail=f"cannot set rlimits: {exc}")
            stop = await _supervise(proc, payload, capture, started + limits.wall_seconds)
        finally:
            _kill_group(proc.pid)
            await _reap(proc, readers)
        frames = parse_frames(bytes(capture.data), nonce, job)
        elapsed = time.monotonic() - started
        outcome = _judge(frames, stop, capture.overflowed.is_set(), proc.returncode, tail.text(), elapsed, limits)
        return dataclasses.replace(outcome, wall_seconds=elapsed, stderr_tail=tail.text())


def scrubbed_env(workdir: str) -> dict[str, str]:
    """Nothing from the host environment (no API keys); threads pinned for fair, stable timings."""
    return {
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


@dataclass
class _Capture:
    """stdout kept whole up to a cap; noticing the end marker lets a lingering runner be cut short."""

    limit: int
    marker: bytes
    data: bytearray = field(default_factory=bytearray)
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, chunk: bytes) -> None:
        if self.overflowed.is_set() or self.ended.is_set():
            return  # nothing after the end marker counts, so it cannot overflow either
        start = max(0, len(self.data) - len(self.marker))
        self.data += chunk
        if self.data.find(self.marker, start) >= 0:
            self.ended.set()
        elif len(self.data) > self.limit:
            del self.data[self.limit :]
            self.overflowed.set()


@dataclass
class _Tail:
    """The last `size` bytes of stderr; the rest is read and dropped so the pipe never blocks."""

    size: int
    data: bytearray = field(default_factory=bytearray)

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * self.size:
            del self.data[: len(self.data) - self.size]

    def text(self) -> str:
        return bytes(self.data[-self.size :] if self.size > 0 else b"").decode("utf-8", "replace")


async def _drain(stream: asyncio.StreamReader, sink) -> None:
    while chunk := await stream.read(1 << 16):
        sink(chunk)


async def _supervise(
    proc: asyncio.subprocess.Process, payload: bytes, capture: _Capture, deadline: float
) -> str | None:
    """Wait for the runner to finish, end, overflow or run out of time; 'timeout'/'output_limit' or None."""
    feeder = asyncio.create_task(_feed(proc.stdin, payload))
    exited = asyncio.create_task(_exited(proc))
    ended = asyncio.create_task(capture.ended.wait())
    overflowed = asyncio.create_task(capture.overflowed.wait())
    try:
        done, _ = await asyncio.wait(
            {exited, ended, overflowed},
            timeout=max(0.0, deadline - time.monotonic()),
            return_when=asyncio.FIRST_COMPLETED,
        )
        if overflowed in done:
            return "output_limit"
        if not done:
            return "timeout"
        if not exited.done():  # ended: give it a moment to exit cleanly, then it will be killed
            await asyncio.wait({exited}, timeout=END_GRACE_SECONDS)
        return None
    finally:
        for task in (feeder, exited, ended, overflowed):
            task.cancel()


async def _exited(proc: asyncio.subprocess.Process) -> int:
    """The runner's exit status as soon as it is reaped.

    Not proc.wait(): that also waits for the pipes to close, which a child the candidate left
    behind can hold open until the wall clock runs out.
    """
    while proc.returncode is None:
        await asyncio.sleep(EXIT_POLL_SECONDS)
    return proc.returncode


async def _feed(stdin: asyncio.StreamWriter, payload: bytes) -> None:
    try:
        stdin.write(payload)
        await stdin.drain()
        stdin.close()
        await stdin.wait_closed()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the runner died before reading its job; its exit status tells why


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # already gone


async def _reap(proc: asyncio.subprocess.Process, readers: list[asyncio.Task]) -> None:
    """Collect the exit status and the last output; give up on pipes held by an escaped process."""
    try:
        await asyncio.wait_for(_exited(proc), DRAIN_SECONDS)
    except asyncio.TimeoutError:
        pass
    _, pending = await asyncio.wait(readers, timeout=DRAIN_SECONDS)
    for task in pending:
        task.cancel()
    if pending:
        transport = getattr(proc, "_transport", None)  # no public way to close the pipes
        if transport is not None:
            transport.close()


def _judge(
    frames: Frames,
    stop: str | None,
    overflowed: bool,
    returncode: int | None,
    stderr: str,
    elapsed: float,
    limits: Limits,
) -> Outcome:
    """One failure for the job, the most telling first: a breach, the stage's own error, then limits."""
    stages = frames.stages
    if overflowed:
        return Outcome(stages, "output_limit", f"result channel exceeded {limits.max_output_bytes} bytes")
    if frames.problem:
        return Outcome(stages, "invalid_output", frames.problem)
    errored = next((s for s in stages if s.error), None)
    if errored:
        return Outcome(stages, errored.error, errored.detail)
    if stop == "timeout":
        return Outcome(stages, "timeout", f"wall clock limit of {limits.wall_seconds:g}s exceeded")
    if frames.ended:
        return Outcome(stages)
    return _judge_exit(stages, returncode, stderr, elapsed, limits)


def _judge_exit(stages: tuple, returncode: int | None, stderr: str, elapsed: float, limits: Limits) -> Outcome:
    """The runner stopped without finishing: say how it died."""
    last_words = stderr[-1000:]
    if returncode is None:
        return Outcome(stages, "crash", f"runner did not exit\n{last_words}")
    if returncode >= 0:
        return Outcome(stages, "crash", f"runner exited with code {returncode} before finishing\n{last_words}")
    sig = -returncode
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and elapsed >= limits.cpu_seconds):
        return Outcome(stages, "timeout", f"CPU limit of {limits.cpu_seconds}s exceeded ({name})")
    return Outcome(stages, "crash", f"runner killed by {name}\n{last_words}")


def _limit_values(limits: Limits) -> dict[int, tuple[int, int]]:
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


def _capped(wanted: tuple[int, int], current_hard: int) -> tuple[int, int]:
    """An unprivileged process cannot raise a hard limit: stay under the one it already has."""
    soft, hard = wanted
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
        soft = min(soft, hard)
    return soft, hard


def _set_limits(pid: int, limits: Limits) -> None:
    """Linux: set the child's limits from outside, so no Python runs between fork and exec."""
    for which, wanted in _limit_values(limits).items():
        resource.prlimit(pid, which, _capped(wanted, resource.prlimit(pid, which)[1]))


def _set_own_limits(limits: Limits) -> None:
    """Elsewhere (macOS): the preexec_fn fallback."""
    for which, wanted in _limit_values(limits).items():
        resource.setrlimit(which, _capped(wanted, resource.getrlimit(which)[1]))
