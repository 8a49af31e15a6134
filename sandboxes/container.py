"""The docker backend: hardened containers, kept warm in a pool and reused for several jobs.

Each job runs in a fresh forked process inside a running container (see `pool_server`), so a warm
job costs a fork and a socket round trip, not a container start. A container is retired after
any failed job, after a job that left a process or a file behind, and after `max_uses` jobs; when
the pool is warm, a replacement starts in the background. Timeouts are enforced twice: by the
server, which kills the job's processes, and by the host, which kills the whole container if the
server does not answer in time.

Protects: the host's files (only the problem folder is mounted, read-only), environment and
network (none), other containers, and the host's memory, processes and CPU (cgroup limits).
Does not protect: the kernel (shared; containers are not VMs), and, like every backend, the
score of a job from the candidate's own process (that is the AST guard's job).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import time

from sandboxes.base import Limits, Outcome, SandboxJob
from sandboxes.docker_box import PROBLEM_MOUNT, Box, BoxKey, remove_orphans
from sandboxes.errors import SandboxUnavailable
from sandboxes.framing import encode_job
from sandboxes.image import DEFAULT_IMAGE, image_status
from sandboxes.warm import BoxBroken, Pool, judge_reply

HOST_GRACE_SECONDS = 5.0  # beyond the wall limit: the server's own kill, sweep and reply
DEFAULT_MAX_USES = 50


def docker_client(timeout: int = 30):
    """A client for the local engine, or SandboxUnavailable saying why not."""
    try:
        import docker

        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # DockerException, requests' ConnectionError, missing socket...
        raise SandboxUnavailable(f"no Docker engine answers ({type(exc).__name__}: {str(exc)[:150]})") from exc
    return client


class DockerSandbox:
    name = "docker"

    def __init__(self, image: str = DEFAULT_IMAGE, warm: bool = True, max_uses: int = DEFAULT_MAX_USES, client=None, note: str = ""):
        """warm=False starts (and removes) one container per job: the cold path, for comparison."""
        self._client = client or docker_client()
        status = image_status(self._client, image)
        if status.state != "ok":
            raise SandboxUnavailable(status.detail)
        remove_orphans(self._client)
        self._image = image
        self._pool = Pool(lambda key: Box.start(self._client, image, key), warm, max_uses if warm else 1)
        self.note = note

    async def run(self, job: SandboxJob, limits: Limits) -> Outcome:
        started = time.monotonic()
        key = BoxKey(os.path.realpath(job.evaluator.problem_dir), limits.memory_mb, limits.max_processes)
        job = dataclasses.replace(job, evaluator=dataclasses.replace(job.evaluator, problem_dir=PROBLEM_MOUNT))
        nonce = secrets.token_hex(16)
        try:
            payload = encode_job(job, nonce)
        except (TypeError, ValueError) as exc:
            return Outcome(failure="sandbox_error", detail=f"job does not serialise: {exc}")
        try:
            box = await self._pool.acquire(key)
        except (SandboxUnavailable, BoxBroken, TimeoutError, OSError) as exc:
            return Outcome(failure="sandbox_error", detail=f"cannot start a container: {exc}", wall_seconds=time.monotonic() - started)
        reusable = False
        try:
            outcome, reusable = await self._run_in(box, job, nonce, payload, limits, started)
        finally:
            await self._pool.release(box, reusable)
        return dataclasses.replace(outcome, wall_seconds=time.monotonic() - started)

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def _run_in(self, box: Box, job, nonce: str, payload: bytes, limits: Limits, started: float) -> tuple[Outcome, bool]:
        deadline = started + limits.wall_seconds + HOST_GRACE_SECONDS
        try:
            reply = await box.request(nonce, payload, limits, deadline)
        except TimeoutError:
            return Outcome(failure="timeout", detail=f"wall clock limit of {limits.wall_seconds:g}s exceeded (container killed)"), False
        except BoxBroken as exc:
            return await _broken(box, exc), False
        outcome = judge_reply(reply, job, nonce, limits, time.monotonic() - started)
        return outcome, outcome.failure is None and reply.clean


async def _broken(box: Box, exc: BoxBroken) -> Outcome:
    """The server died or someone else wrote to its channel: an OOM kill, the candidate, or a breach."""
    detail = f"{exc}\n{box.stderr_text()[-1000:]}"
    if await box.oom_killed():
        return Outcome(failure="memory", detail="out of memory: the container's memory limit killed it")
    if str(exc).startswith("unexpected bytes"):
        return Outcome(failure="invalid_output", detail=detail)
    return Outcome(failure="crash", detail=f"the sandbox server died (killed by the candidate?): {detail}")
