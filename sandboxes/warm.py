"""What the warm backends (docker, bwrap) share: the pool-server wire format, judging a reply, the pool.

A warm sandbox runs `sandboxes.pool_server`, which forks one child per job. The host sends
`{"nonce", "size", "limits"}\\n` plus the encoded job and reads `EVOLVE-POOL <nonce> <length>\\n`
plus a JSON body (see pool_server). A sandbox is reused until a job fails, leaves something
behind or it has run `max_uses` jobs; then it is destroyed and, when warm, replaced in the background.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Awaitable, Callable, Hashable

from sandboxes.base import Limits, Outcome, SandboxJob
from sandboxes.framing import parse_frames
from sandboxes.pool_server import REPLY_TAG
from sandboxes.process import _judge

MAX_HEADER = 200


@dataclass
class Reply:
    stdout: bytes
    stderr: str
    returncode: int | None
    stop: str | None
    oom: bool
    clean: bool


class BoxBroken(Exception):
    """The sandbox stopped answering as the server would: dead, killed, or written to by someone else."""


def request_bytes(nonce: str, payload: bytes, limits: Limits) -> bytes:
    header = {
        "nonce": nonce,
        "size": len(payload),
        "limits": {
            "wall_seconds": limits.wall_seconds,
            "cpu_seconds": limits.cpu_seconds,
            "memory_mb": limits.memory_mb,
            "max_file_mb": limits.max_file_mb,
            "max_output_bytes": limits.max_output_bytes,
            "stderr_tail_bytes": limits.stderr_tail_bytes,
        },
    }
    return json.dumps(header).encode() + b"\n" + payload


def reply_size(line: bytes, nonce: str) -> int:
    """The body length announced by a reply header; BoxBroken when it is not the server's reply."""
    tag, _, rest = line.decode("ascii", "replace").partition(" ")
    got_nonce, _, size = rest.partition(" ")
    if tag != REPLY_TAG or got_nonce != nonce or not size.isdigit():
        raise BoxBroken(f"unexpected bytes from the sandbox: {line[:80]!r}")
    return int(size)


def decode_reply(body: bytes) -> Reply:
    data = json.loads(body)
    return Reply(
        stdout=base64.b64decode(data["stdout"]),
        stderr=str(data["stderr"]),
        returncode=data["returncode"],
        stop=data["stop"],
        oom=bool(data["oom"]),
        clean=bool(data["clean"]),
    )


def judge_reply(reply: Reply, job: SandboxJob, nonce: str, limits: Limits, elapsed: float) -> Outcome:
    frames = parse_frames(reply.stdout, nonce, job)
    overflowed = reply.stop == "output_limit"
    stop = reply.stop if reply.stop == "timeout" else None
    outcome = _judge(frames, stop, overflowed, reply.returncode, reply.stderr, elapsed, limits)
    if reply.oom and outcome.failure in ("crash", "timeout"):
        outcome = dataclasses.replace(outcome, failure="memory", detail=f"out of memory: the {limits.memory_mb} MB limit killed the job")
    return dataclasses.replace(outcome, stderr_tail=reply.stderr)


async def read_line(inbox: bytearray, receive: Callable[[float], Awaitable[None]], deadline: float, source: str) -> bytes:
    """One newline-terminated header from `inbox`, refilled by `receive` (docker attach or a socketpair)."""
    while (end := inbox.find(b"\n")) < 0:
        if len(inbox) > MAX_HEADER:
            raise BoxBroken(f"unexpected bytes from {source}: {bytes(inbox[:80])!r}")
        await receive(deadline)
    line = bytes(inbox[:end])
    del inbox[: end + 1]
    return line


async def read_exact(inbox: bytearray, size: int, receive: Callable[[float], Awaitable[None]], deadline: float) -> bytes:
    while len(inbox) < size:
        await receive(deadline)
    data = bytes(inbox[:size])
    del inbox[:size]
    return data


class Pool:
    """Idle boxes per key. A box has `key`, `uses`, `alive()` and `async destroy()`; `start(key)` makes one."""

    def __init__(self, start: Callable[[Hashable], Awaitable], warm: bool, max_uses: int):
        self._start, self._warm, self._max_uses = start, warm, max_uses
        self._idle: dict[Hashable, list] = defaultdict(list)
        self._boxes: dict[int, object] = {}
        self._tasks: set[asyncio.Task] = set()
        self._closed = False

    async def acquire(self, key: Hashable):
        idle = self._idle[key]
        while idle:
            box = idle.pop()
            if box.alive():
                self._boxes[id(box)] = box
                return box
            self._spawn(box.destroy())
        box = await self._start(key)
        self._boxes[id(box)] = box
        return box

    async def release(self, box, reusable: bool) -> None:
        if reusable and self._warm and box.uses < self._max_uses and not self._closed:
            self._idle[box.key].append(box)
            return
        self._boxes.pop(id(box), None)
        self._spawn(box.destroy())
        if self._warm and not self._closed:
            self._spawn(self._replace(box.key))

    async def aclose(self) -> None:
        self._closed = True
        await asyncio.gather(*self._tasks, return_exceptions=True)
        boxes = list(self._boxes.values()) + [b for idle in self._idle.values() for b in idle]
        self._idle.clear()
        self._boxes.clear()
        await asyncio.gather(*(b.destroy() for b in {id(b): b for b in boxes}.values()), return_exceptions=True)

    async def _replace(self, key: Hashable) -> None:
        try:
            box = await self._start(key)
        except Exception:  # pre-warming is best effort: the next acquire starts one and reports why
            return
        if self._closed:
            await box.destroy()
        else:
            self._idle[key].append(box)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
