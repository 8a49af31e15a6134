"""The bubblewrap backend: the runner in fresh namespaces that see only what it needs, read-only.

Every namespace is unshared (no network, own pids, own /proc, own hostname, uid 65534 in a user
namespace with no capabilities); the filesystem is an empty tmpfs root with read-only binds of the
interpreter, the project's `evaluators` and `sandboxes` packages and the job's problem folder,
plus a private /tmp. rlimits bound each process; as root, a cgroup bounds the whole job's memory
and process count and reports OOM kills. The sandbox dies with its parent, runs in its own
session, and its process group and cgroup are killed on timeout. By default sandboxes are kept
warm and reused for several jobs, each a fork of a pool server inside (see bwrap_warm).

Not protected: the kernel is shared (a kernel exploit escapes), the binds are readable, and
without root (no cgroup) memory is bounded per process, so a job's /tmp (a tmpfs) can grow.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import evaluators
import sandboxes
from sandboxes.base import Limits, Outcome, SandboxJob
from sandboxes.bwrap_box import WarmBox, WarmKey
from sandboxes.bwrap_warm import DEFAULT_MAX_USES, WarmRunner
from sandboxes.cgroups import JobCgroup
from sandboxes.errors import SandboxUnavailable
from sandboxes.framing import END_TAG, encode_job, parse_frames
from sandboxes.warm import Pool
from sandboxes.process import RUNNER, _Capture, _drain, _judge, _kill_group, _reap, _set_limits, _supervise, _Tail, scrubbed_env

WORK = "/tmp/work"
SANDBOX_UID = 65534
# Holds the job until the host has set its rlimits and cgroup: `read` takes one line from stdin
# byte by byte, so the job that follows is left for the runner.
SERVER = ("-s", "-P", "-m", "sandboxes.pool_server")
HOLD = 'read -r _ && exec "$0" "$@"'
ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
MB = 1024 * 1024


class BwrapSandbox:
    """Warm: a pool of long-lived sandboxes, each running the pool server (see bwrap_warm).
    Cold: each job as `bwrap ... python -m sandboxes.runner`, the host side mirroring ProcessSandbox."""

    name = "bwrap"

    def __init__(
        self, python: str = sys.executable, bwrap: str | None = None, use_cgroups: bool = True, note: str = "",
        warm: bool = True, max_uses: int = DEFAULT_MAX_USES,
    ):  # fmt: skip
        """warm=False starts a fresh bwrap and interpreter per job (the cold path, for comparison)."""
        found = bwrap or shutil.which("bwrap")
        if not found:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
        self._bwrap = found
        self._python = python
        self._use_cgroups = use_cgroups and os.geteuid() == 0
        limits_note = "" if self._use_cgroups else "no cgroup (not root): memory is bounded per process only"
        self.note = "; ".join(n for n in (note, limits_note) if n)
        self._pool = Pool(self._start_box, True, max_uses) if warm else None
        self._warm = WarmRunner(self._pool)

    async def _start_box(self, key: WarmKey) -> WarmBox:
        server = [*self._namespace_argv(key.problem_dir), "--", self._python, *SERVER]
        return await WarmBox.start(server, key, self._use_cgroups)

    def argv(self, job: SandboxJob) -> list[str]:
        """The bwrap command line for a cold job (public so `evolve sandbox check` can show it)."""
        return [*self._namespace_argv(os.path.abspath(job.evaluator.problem_dir)), "--", self._python, *RUNNER]

    def _namespace_argv(self, problem_dir: str) -> list[str]:
        args = [
            self._bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--hostname", "sandbox",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", WORK, "--chdir", WORK, "--clearenv",
        ]  # fmt: skip
        for link in ROOT_LINKS:
            if os.path.islink(link):
                args += ["--symlink", os.readlink(link), link]
            elif os.path.isdir(link):
                args += ["--ro-bind", link, link]
        for source, dest in _read_only_binds(self._python, problem_dir):
            args += ["--ro-bind", source, dest]
        env = scrubbed_env(WORK)
        env["PYTHONPATH"] = os.pathsep.join(_code_roots())
        for key, value in env.items():
            args += ["--setenv", key, value]
        return [*args, "--remount-ro", "/"]  # the sandbox's own root tmpfs too: only /tmp is writable

    async def run(self, job: SandboxJob, limits: Limits) -> Outcome:
        if self._pool is not None:
            return await self._warm.run(job, limits)
        started = time.monotonic()
        problem_dir = os.path.abspath(job.evaluator.problem_dir)
        job = dataclasses.replace(job, evaluator=dataclasses.replace(job.evaluator, problem_dir=problem_dir))
        nonce = secrets.token_hex(16)
        try:
            payload = encode_job(job, nonce)
        except (TypeError, ValueError) as exc:
            return Outcome(failure="sandbox_error", detail=f"job does not serialise: {exc}")
        cgroup = None
        if self._use_cgroups:
            cgroup = await asyncio.to_thread(JobCgroup.create, limits.memory_mb * MB, limits.max_processes)
        try:
            return await self._run(job, payload, nonce, limits, started, cgroup)
        finally:
            if cgroup is not None:
                await asyncio.to_thread(_dispose, cgroup)

    async def aclose(self) -> None:
        """Warm: destroy the pooled sandboxes. Cold: nothing outlives a run."""
        if self._pool is not None:
            await self._pool.aclose()

    async def _run(self, job, payload: bytes, nonce: str, limits: Limits, started: float, cgroup) -> Outcome:
        try:
            proc = await asyncio.create_subprocess_exec(
                "/bin/sh", "-c", HOLD, *self.argv(job),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, start_new_session=True, cwd="/",
            )  # fmt: skip
        except OSError as exc:
            return Outcome(failure="sandbox_error", detail=f"cannot start bwrap: {exc}")
        capture = _Capture(limit=limits.max_output_bytes, marker=f"\n{END_TAG} {nonce}\n".encode())
        tail = _Tail(limits.stderr_tail_bytes)
        readers = [
            asyncio.create_task(_drain(proc.stdout, capture.add)),
            asyncio.create_task(_drain(proc.stderr, tail.add)),
        ]
        try:
            try:  # the shell holds at `read`: nothing runs before its limits and cgroup are in place
                _set_limits(proc.pid, dataclasses.replace(limits, max_processes=_nproc(limits)))
                if cgroup is not None:
                    cgroup.add(proc.pid)
            except (OSError, ValueError) as exc:
                return Outcome(failure="sandbox_error", detail=f"cannot limit the sandbox: {exc}")
            stop = await _supervise(proc, b"go\n" + payload, capture, started + limits.wall_seconds)
        finally:
            _kill_group(proc.pid)  # bwrap's pid 1 dies with it, and the kernel kills the namespace
            if cgroup is not None:
                await asyncio.to_thread(cgroup.kill_all)
            await _reap(proc, readers)
        frames = parse_frames(bytes(capture.data), nonce, job)
        elapsed = time.monotonic() - started
        returncode = _as_signal(proc.returncode)
        outcome = _judge(frames, stop, capture.overflowed.is_set(), returncode, tail.text(), elapsed, limits)
        if cgroup is not None and cgroup.oom_kills() > 0 and outcome.failure in ("crash", "timeout"):
            outcome = dataclasses.replace(outcome, failure="memory", detail=f"out of memory: the job's {limits.memory_mb} MB cgroup limit killed it")
        return dataclasses.replace(outcome, wall_seconds=elapsed, stderr_tail=tail.text())


def bwrap_works(bwrap: str | None = None) -> str | None:
    """None when bwrap can build this backend's namespaces here, else why not."""
    found = bwrap or shutil.which("bwrap")
    if not found:
        return "bubblewrap (bwrap) is not installed"
    argv = [found, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--ro-bind", "/", "/", "true"]
    try:
        result = subprocess.run(argv, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to run: {exc}"
    if result.returncode != 0:
        return f"bwrap cannot create namespaces here: {result.stderr.decode(errors='replace').strip()[:200]}"
    return None


def _nproc(limits: Limits) -> int:
    """RLIMIT_NPROC counts every process of the uid, not just this job's: leave room for the others."""
    return limits.max_processes + 64


def _as_signal(returncode: int | None) -> int | None:
    """bwrap reports a child killed by signal N as exit code 128+N; the judge wants -N."""
    if returncode is not None and 128 < returncode < 128 + 65:
        return -(returncode - 128)
    return returncode


def _dispose(cgroup: JobCgroup) -> None:
    cgroup.kill_all()
    cgroup.remove()


def _code_roots() -> list[str]:
    """Folders that hold the `evaluators` and `sandboxes` packages (what the runner imports)."""
    return sorted({str(Path(p.__file__).resolve().parent.parent) for p in (evaluators, sandboxes)})


def _read_only_binds(python: str, problem_dir: str) -> list[tuple[str, str]]:
    """(source, destination) pairs: the interpreter's prefixes, the two packages and the problem
    folder, each at its own path and at its resolved path (symlinked folders), nested repeats dropped."""
    wanted = {"/usr", sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, problem_dir}
    wanted.add(str(Path(python).resolve().parent.parent))
    wanted.update(str(Path(p.__file__).resolve().parent) for p in (evaluators, sandboxes))
    if os.path.exists("/etc/ld.so.cache"):
        wanted.add("/etc/ld.so.cache")
    found = [p for p in wanted if p and os.path.exists(p)]
    paths = sorted({os.path.abspath(p) for p in found} | {os.path.realpath(p) for p in found})
    kept: list[str] = []
    for path in paths:  # sorted: a parent comes before its children
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return [(os.path.realpath(p), p) for p in kept]
