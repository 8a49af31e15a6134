"""Boxes: the host's side of one isolated place where candidate jobs run, one at a time.

A job is a candidate server (sandboxes.candidate_server) reached over a socket that the trusted
evaluator holds directly. A box is reused for several jobs until one fails, leaves something
behind, or it has served `max_uses`. Two kinds:

- PoolBox: a warm sandbox (docker container, bwrap namespace) running sandboxes.pool_server,
  which forks each job and gets the job's channel as a descriptor over the control socket.
- process.ProcessBox: a plain subprocess per job (development only: not isolated).

Everything here is synchronous: a box is owned by one trusted worker process (sandboxes.worker).
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Protocol

from sandboxes import framing
from sandboxes.base import Limits
from sandboxes.errors import BoxBroken

CONTROL_SECONDS = 10.0  # a pool server answers control messages at once; beyond this it is broken


@dataclass(frozen=True)
class JobEnd:
    """How a job ended, as its supervisor saw it.

    stop: "host" (ended after the evaluation), "exit" (the job's process ended on its own),
    "timeout" (the supervisor's wall clock). `clean` False: the box must not be reused.
    """

    returncode: int | None
    stop: str
    oom: bool
    clean: bool
    stderr: str
    elapsed: float


class Job(Protocol):
    sock: socket.socket  # the channel to the candidate's server

    def end(self) -> JobEnd: ...


class Box(Protocol):
    uses: int

    def start(self, limits: Limits) -> Job: ...

    def close(self) -> None: ...


class Launcher(Protocol):
    """What differs between warm backends: how the sandbox starts and dies, and its OOM counter."""

    def oom_kills(self) -> int: ...

    def stderr(self) -> str: ...

    def destroy(self) -> None: ...


class ControlLink:
    """JSON lines to and from a pool server; descriptors ride along with a line (SCM_RIGHTS)."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buffer = sock, bytearray()

    def send(self, message: dict, fds: tuple[int, ...] = ()) -> None:
        data = json.dumps(message).encode() + b"\n"
        try:
            if fds:
                sent = socket.send_fds(self.sock, [data], list(fds))
                if sent < len(data):
                    self.sock.sendall(data[sent:])
            else:
                self.sock.sendall(data)
        except OSError as exc:
            raise BoxBroken(f"cannot reach the sandbox's server: {exc}") from None

    def receive(self, timeout: float = CONTROL_SECONDS) -> dict:
        deadline = time.monotonic() + timeout
        while (end := self.buffer.find(b"\n")) < 0:
            if len(self.buffer) > 1 << 20:
                raise BoxBroken("the sandbox's server sent an overlong line")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BoxBroken("the sandbox's server did not answer in time")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                continue
            except OSError as exc:
                raise BoxBroken(f"the sandbox's server is unreachable: {exc}") from None
            if not chunk:
                raise BoxBroken("the sandbox's server exited")
            self.buffer += chunk
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        try:
            message = json.loads(line)
        except ValueError:
            raise BoxBroken(f"unexpected bytes from the sandbox's server: {line[:80]!r}") from None
        if not isinstance(message, dict):
            raise BoxBroken(f"unexpected message from the sandbox's server: {line[:80]!r}")
        return message

    def expect(self, op: str, timeout: float = CONTROL_SECONDS) -> dict:
        message = self.receive(timeout)
        if message.get("op") != op:
            raise BoxBroken(f"the sandbox's server said {message.get('op')!r} ({message.get('detail', '')}), expected {op!r}")
        return message


def limits_message(limits: Limits, require_seccomp: bool = False) -> dict:
    return {
        "require_seccomp": require_seccomp,
        "wall_seconds": limits.wall_seconds,
        "cpu_seconds": limits.cpu_seconds,
        "memory_mb": limits.memory_mb,
        "max_file_mb": limits.max_file_mb,
        "stderr_tail_bytes": limits.stderr_tail_bytes,
    }


class PoolJob:
    def __init__(self, box: "PoolBox", sock: socket.socket, oom_before: int):
        self.box, self.sock, self._oom_before = box, sock, oom_before

    def end(self) -> JobEnd:
        """Close the channel, have the server kill and sweep, and read its report."""
        self.sock.close()
        box = self.box
        try:
            box.link.send({"op": "end"})
            report = box.link.expect("ended")
        except BoxBroken:
            box.broken = True
            raise
        oom = bool(report.get("oom")) or box.launcher.oom_kills() > self._oom_before
        clean = bool(report.get("clean")) and not oom
        if not clean:
            box.broken = True
        return JobEnd(
            returncode=report.get("returncode") if isinstance(report.get("returncode"), int) else None,
            stop=str(report.get("stop")),
            oom=oom,
            clean=clean,
            stderr=str(report.get("stderr", ""))[-8000:],
            elapsed=float(report.get("elapsed", 0.0)),
        )


class PoolBox:
    """A started warm sandbox and its control link; `broken` once it must not take another job."""

    def __init__(self, launcher: Launcher, link: ControlLink, require_seccomp: bool = False):
        """require_seccomp: a job that cannot load the keyring filter must not run (bwrap, where
        nothing else stops keys from outliving the sandbox)."""
        self.launcher, self.link, self.require_seccomp = launcher, link, require_seccomp
        self.uses = 0
        self.broken = False

    def start(self, limits: Limits) -> PoolJob:
        if self.broken:
            raise BoxBroken("this sandbox was retired")
        ours, theirs = framing.channel_pair()
        self.uses += 1
        oom_before = self.launcher.oom_kills()
        try:
            self.link.send({"op": "start", "limits": limits_message(limits, self.require_seccomp)}, fds=(theirs.fileno(),))
            self.link.expect("started")
        except BoxBroken:
            self.broken = True
            ours.close()
            raise
        finally:
            theirs.close()
        return PoolJob(self, ours, oom_before)

    def close(self) -> None:
        try:
            self.link.sock.close()
        finally:
            self.launcher.destroy()
