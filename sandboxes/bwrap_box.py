"""One long-lived bubblewrap sandbox running `sandboxes.pool_server`, spoken to over a socketpair.

The server's end of the socket is an extra descriptor: bwrap's pid-1 init and its outside monitor
close extra descriptors, and the server is not dumpable, so a job cannot reach the channel
through /proc. As root the whole sandbox sits in its own cgroup (memory = the job's limit plus
the server's share, pids = the job's limit plus a few): a job that exhausts it is OOM-killed,
which the host reads from the cgroup. Destroying kills bwrap's process group and the cgroup.
"""

from __future__ import annotations

import asyncio
import resource
import socket
import time
from dataclasses import dataclass, field

from sandboxes.base import Limits
from sandboxes.cgroups import JobCgroup
from sandboxes.errors import SandboxUnavailable
from sandboxes.pool_server import READY
from sandboxes.process import _capped, _drain, _kill_group, _Tail
from sandboxes.warm import BoxBroken, Reply, decode_reply, read_exact, read_line, reply_size, request_bytes

# Holds bwrap until the host has set its rlimits and cgroup (see bwrap.py); the channel fd follows.
HOLD = 'read -r _ && exec "$0" "$@"'
SERVER_MB = 96  # the server, its imports and the scratch tmpfs's bookkeeping, on top of the job
SERVER_PIDS = 8
READY_SECONDS = 30.0
KILL_SECONDS = 2.0
MB = 1024 * 1024


@dataclass(frozen=True)
class WarmKey:
    """Sandboxes are reusable for jobs that bind the same problem folder under the same limits."""

    problem_dir: str
    memory_mb: int
    max_processes: int


@dataclass
class WarmBox:
    key: WarmKey
    proc: asyncio.subprocess.Process
    sock: socket.socket
    cgroup: JobCgroup | None
    stderr: _Tail = field(default_factory=lambda: _Tail(4000))
    reader: asyncio.Task | None = None
    uses: int = 0
    buffer: bytearray = field(default_factory=bytearray)

    @classmethod
    async def start(cls, command: list[str], key: WarmKey, use_cgroups: bool) -> "WarmBox":
        """`command` is bwrap's argv up to the server; `--fd N` is appended."""
        cgroup = None
        if use_cgroups:
            memory = (key.memory_mb + SERVER_MB) * MB
            cgroup = await asyncio.to_thread(JobCgroup.create, memory, key.max_processes + SERVER_PIDS)
        ours, theirs = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                "/bin/sh", "-c", HOLD, *command, "--fd", str(theirs.fileno()),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, start_new_session=True, cwd="/",
                pass_fds=(theirs.fileno(),),
            )  # fmt: skip
        except OSError as exc:
            ours.close()
            if cgroup is not None:
                await asyncio.to_thread(_dispose, cgroup)
            raise SandboxUnavailable(f"cannot start bwrap: {exc}") from exc
        finally:
            theirs.close()
        ours.setblocking(False)
        box = cls(key, proc, ours, cgroup)
        box.reader = asyncio.create_task(_drain(proc.stderr, box.stderr.add))
        try:
            _limit(proc.pid, key)
            if cgroup is not None:
                cgroup.add(proc.pid)
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
            proc.stdin.close()
            line = await box._read_line(time.monotonic() + READY_SECONDS)
        except BaseException:
            await box.destroy()
            raise
        if line + b"\n" != READY:
            await box.destroy()
            raise SandboxUnavailable(f"sandbox server did not start: {line[:200]!r} {box.stderr.text()[-500:]}")
        return box

    def alive(self) -> bool:
        return self.proc.returncode is None

    def oom_kills(self) -> int:
        return self.cgroup.oom_kills() if self.cgroup is not None else 0

    async def request(self, nonce: str, payload: bytes, limits: Limits, deadline: float) -> Reply:
        """Send one job and wait for its reply until `deadline`; TimeoutError or BoxBroken otherwise."""
        self.uses += 1
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.sock_sendall(self.sock, request_bytes(nonce, payload, limits)), max(0.01, deadline - time.monotonic()))
        except OSError as exc:
            raise BoxBroken(f"cannot send the job: {exc}") from exc
        size = reply_size(await self._read_line(deadline), nonce)
        return decode_reply(await self._read_exact(size, deadline))

    async def destroy(self) -> None:
        """Kill bwrap's process group and the cgroup for sure; never raises."""
        self.sock.close()
        _kill_group(self.proc.pid)
        if self.cgroup is not None:
            await asyncio.to_thread(_dispose, self.cgroup)
        try:
            await asyncio.wait_for(self.proc.wait(), KILL_SECONDS)
        except asyncio.TimeoutError:
            pass
        if self.reader is not None:
            self.reader.cancel()
        transport = getattr(self.proc, "_transport", None)
        if transport is not None:
            transport.close()

    async def _read_line(self, deadline: float) -> bytes:
        return await read_line(self.buffer, self._receive, deadline, "the sandbox")

    async def _read_exact(self, size: int, deadline: float) -> bytes:
        return await read_exact(self.buffer, size, self._receive, deadline)

    async def _receive(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        loop = asyncio.get_running_loop()
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(self.sock, 1 << 16), remaining)
        except OSError as exc:
            raise BoxBroken(f"channel failed: {exc}") from exc
        if not chunk:
            raise BoxBroken("the sandbox's server exited")
        self.buffer += chunk


def _limit(pid: int, key: WarmKey) -> None:
    """No core files, and a process count (RLIMIT_NPROC counts the uid's other processes too: room for them)."""
    resource.prlimit(pid, resource.RLIMIT_CORE, (0, 0))
    nproc = key.max_processes + 64
    resource.prlimit(pid, resource.RLIMIT_NPROC, _capped((nproc, nproc), resource.prlimit(pid, resource.RLIMIT_NPROC)[1]))


def _dispose(cgroup: JobCgroup) -> None:
    cgroup.kill_all()
    cgroup.remove()
