"""The bwrap backend's warm path: a job is a fork inside a long-lived sandbox, not a new bwrap.

Each pooled sandbox (bwrap_box.WarmBox) has the cold path's namespaces, binds, cleared
environment, uid and session, and runs the pool server, which forks the job with its rlimits,
kills every leftover process and empties /tmp after it. A sandbox is retired after any failure,
any leftover, an OOM kill in its cgroup, a host-side timeout, or `max_uses` jobs. Timeouts are
enforced twice: by the server, and by the host, which kills bwrap's process group and cgroup
when the server does not answer in time.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import time

from sandboxes.base import Limits, Outcome, SandboxJob
from sandboxes.bwrap_box import WarmBox, WarmKey
from sandboxes.errors import SandboxUnavailable
from sandboxes.framing import encode_job
from sandboxes.warm import BoxBroken, Pool, judge_reply

DEFAULT_MAX_USES = 50
HOST_GRACE_SECONDS = 3.0  # beyond the wall limit: the server's own kill, sweep and reply


class WarmRunner:
    def __init__(self, pool: Pool | None):
        self._pool = pool

    async def run(self, job: SandboxJob, limits: Limits) -> Outcome:
        started = time.monotonic()
        problem_dir = os.path.abspath(job.evaluator.problem_dir)
        job = dataclasses.replace(job, evaluator=dataclasses.replace(job.evaluator, problem_dir=problem_dir))
        nonce = secrets.token_hex(16)
        try:
            payload = encode_job(job, nonce)
        except (TypeError, ValueError) as exc:
            return Outcome(failure="sandbox_error", detail=f"job does not serialise: {exc}")
        try:
            box = await self._pool.acquire(WarmKey(problem_dir, limits.memory_mb, limits.max_processes))
        except (SandboxUnavailable, BoxBroken, TimeoutError, OSError) as exc:
            return Outcome(failure="sandbox_error", detail=f"cannot start a bwrap sandbox: {exc}", wall_seconds=time.monotonic() - started)
        reusable = False
        try:
            outcome, reusable = await _run_in(box, job, nonce, payload, limits, started)
        finally:
            await self._pool.release(box, reusable)
        return dataclasses.replace(outcome, wall_seconds=time.monotonic() - started)


async def _run_in(box: WarmBox, job, nonce: str, payload: bytes, limits: Limits, started: float) -> tuple[Outcome, bool]:
    oom_before = box.oom_kills()
    deadline = started + limits.wall_seconds + HOST_GRACE_SECONDS
    try:
        reply = await box.request(nonce, payload, limits, deadline)
    except TimeoutError:
        return Outcome(failure="timeout", detail=f"wall clock limit of {limits.wall_seconds:g}s exceeded (sandbox killed)"), False
    except BoxBroken as exc:
        return _broken(box, exc, limits, box.oom_kills() > oom_before), False
    oom = box.oom_kills() > oom_before
    outcome = judge_reply(dataclasses.replace(reply, oom=reply.oom or oom), job, nonce, limits, time.monotonic() - started)
    return outcome, outcome.failure is None and reply.clean and not oom


def _broken(box: WarmBox, exc: BoxBroken, limits: Limits, oom: bool) -> Outcome:
    """The server died or its channel carried something else: an OOM kill, the candidate, or a breach."""
    if oom:
        return Outcome(failure="memory", detail=f"out of memory: the sandbox's {limits.memory_mb} MB cgroup limit killed it")
    detail = f"{exc}\n{box.stderr.text()[-1000:]}"
    if str(exc).startswith("unexpected bytes"):
        return Outcome(failure="invalid_output", detail=detail)
    return Outcome(failure="crash", detail=f"the sandbox server died (killed by the candidate?): {detail}")
