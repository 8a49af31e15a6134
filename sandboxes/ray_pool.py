"""Evaluations on a Ray cluster: the same trusted workers as on one machine, as Ray actors.

`RayPool` is an Executor (submit a job, await its outcome; close) whose slots are Ray actors, one
per concurrent evaluation, each asking Ray for one CPU and placed on whichever node has one. Each
actor is a trusted worker (sandboxes.ray_worker): it loads the evaluator once and owns one box of
the backend it is told to use, on its own node, so every node needs that backend ready (the
docker image built there, or bubblewrap installed) and evolve installed in the Python Ray runs.
The controller, the store and selection stay in the driver's process.

A worker or node that dies mid-evaluation makes the call fail: the job is retried once on a fresh
actor, and if that one dies too it comes back as a sandbox_error, never lost. A job that overruns
its wall clock (plus a grace for starting) gets its actor killed and comes back as a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from evaluators.protocol import EvaluatorRef
from sandboxes.base import Limits, Outcome, SandboxJob
from sandboxes.errors import SandboxUnavailable
from sandboxes.messages import evaluator_to_json, job_to_json, outcome_from_json
from sandboxes.pool import CLOSE_SECONDS, JOB_GRACE_SECONDS, START_GRACE_SECONDS, worker_env
from sandboxes.ray_worker import TrustedWorker, pack_folder
from sandboxes.worker import BackendSpec

RETRIES = 1  # a job whose worker died is run once more on a fresh actor


@dataclass
class _Actor:
    handle: Any
    key: str
    jobs: int = 0


@dataclass
class RayPool:
    """An Executor on Ray: at most `slots` jobs at once, each in its own actor."""

    backend: BackendSpec
    slots: int
    address: str | None = None  # an existing cluster; None: start a local one (stopped at close)
    note: str = ""
    _idle: dict[str, list[_Actor]] = field(default_factory=lambda: defaultdict(list))
    _actors: list[_Actor] = field(default_factory=list)
    _folders: dict[str, bytes | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.name = self.backend.name
        self._ray = connect(self.address)
        cpus = int(self._ray.cluster_resources().get("CPU", 0))
        if self.slots > cpus:  # an actor holds its CPU while idle: a slot beyond them would wait forever
            self._ray.shutdown()
            raise SandboxUnavailable(f"--workers {self.slots} needs {self.slots} CPUs, and the Ray cluster has {cpus}")
        self._free = asyncio.Semaphore(self.slots)
        self._remote = self._ray.remote(num_cpus=1, max_restarts=0, max_concurrency=1)(TrustedWorker)

    async def run(self, job: SandboxJob, limits: Limits) -> Outcome:
        async with self._free:
            died = ""
            for _ in range(RETRIES + 1):
                actor = self._acquire(job.evaluator)
                grace = START_GRACE_SECONDS if actor.jobs == 0 else JOB_GRACE_SECONDS
                try:
                    if actor.jobs == 0:  # placed and started: until a node has a free CPU the clock does not run
                        await asyncio.wrap_future(actor.handle.pid.remote().future())
                    actor.jobs += 1
                    call = asyncio.wrap_future(actor.handle.score.remote(job_to_json(job, limits)).future())
                    line = await asyncio.wait_for(call, limits.wall_seconds + grace)
                except asyncio.CancelledError:  # the run is stopping: this job's actor goes
                    self._kill(actor)
                    raise
                except asyncio.TimeoutError:
                    self._kill(actor)
                    detail = f"the evaluation overran its {limits.wall_seconds:g}s wall clock (Ray worker killed)"
                    return Outcome(failure="timeout", detail=detail, wall_seconds=limits.wall_seconds)
                except self._ray.exceptions.RayError as exc:  # the actor, its process or its node died
                    self._kill(actor)
                    died = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                    continue
                self._idle[actor.key].append(actor)
                return outcome_from_json(line)
        return Outcome(failure="sandbox_error", detail=f"the Ray worker died {RETRIES + 1} times running this job ({died})")

    def _acquire(self, ref: EvaluatorRef) -> _Actor:
        """An idle actor with this evaluator, else a new one (first retiring an idle actor of
        another evaluator, so actors never hold more CPUs than the pool has slots)."""
        key = json.dumps(evaluator_to_json(ref), sort_keys=True)
        if self._idle[key]:
            return self._idle[key].pop()
        if len(self._actors) >= self.slots:
            spare = next(actors for actors in self._idle.values() if actors)
            self._kill(spare.pop())
        if ref.problem_dir not in self._folders:
            self._folders[ref.problem_dir] = pack_folder(ref.problem_dir)
        config = {"evaluator": evaluator_to_json(ref), "backend": self.backend.to_json()}
        actor = _Actor(self._remote.remote(config, self._folders[ref.problem_dir]), key)
        self._actors.append(actor)
        return actor

    def _kill(self, actor: _Actor) -> None:
        if actor in self._actors:
            self._actors.remove(actor)
        with contextlib.suppress(Exception):
            self._ray.kill(actor.handle, no_restart=True)

    async def aclose(self) -> None:
        """Ask every actor to remove its box, then end them and leave the cluster (a local Ray stops)."""
        closing = [asyncio.wrap_future(a.handle.close.remote().future()) for a in self._actors]
        if closing:
            await asyncio.wait(closing, timeout=CLOSE_SECONDS)
        for actor in list(self._actors):
            self._kill(actor)
        self._idle.clear()
        self._ray.shutdown()


def connect(address: str | None):
    """Ray, initialised: joined to the cluster at `address`, or a local one started now with this
    process's environment minus its secrets (the actors inherit it; API keys stay here)."""
    try:
        import ray
    except ImportError:
        raise SandboxUnavailable("--executor ray needs Ray: pip install 'evolve-systems[ray]'") from None
    if ray.is_initialized():
        return ray
    if address:
        _check_reachable(address)
    options = dict(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        with contextlib.nullcontext() if address else _environment({**worker_env(), **_ray_settings()}):
            ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise SandboxUnavailable(f"cannot start or reach {where}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    return ray


def _check_reachable(address: str, seconds: float = 5.0) -> None:
    """A cluster address nobody answers at fails now, in one line (ray.init would retry for minutes)."""
    where = address.split("://", 1)[-1]
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and the like: Ray finds the cluster itself
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as exc:
        raise SandboxUnavailable(f"no Ray cluster answers at {address} ({exc.strerror or exc})") from None


def _ray_settings() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("RAY_")}


@contextlib.contextmanager
def _environment(env: dict[str, str]):
    """os.environ is `env` inside (for the processes started there), and as it was afterwards."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
