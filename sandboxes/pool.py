"""The controller's side of the sandboxes: trusted worker processes that score jobs.

`WorkerPool` is the local Executor the loop holds (`run(job, limits) -> Outcome`). Each concurrent
evaluation gets a trusted worker process (sandboxes.worker) that loads the evaluator once and
owns one box of the chosen backend; workers are reused for later jobs with the same evaluator.
With `slots`, at most that many jobs run at once (the others wait for a slot).
A worker that dies or overruns its job's wall clock (plus a grace for starting its box) is
killed, and its job comes back as a sandbox_error or a timeout: never lost, never a dead run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections import defaultdict

from evaluators.protocol import EvaluatorRef
from sandboxes.base import Limits, Outcome, SandboxJob
from sandboxes.messages import evaluator_to_json, job_to_json, outcome_from_json
from sandboxes.worker import BackendSpec

# What a worker keeps of the controller's environment: no API keys, tokens or other secrets.
WORKER_ENV = ("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "DOCKER_HOST",
              "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONFIG", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
              "MKL_NUM_THREADS")  # fmt: skip
START_GRACE_SECONDS = 90.0  # a worker's first job: interpreter, evaluator, workloads, a container
JOB_GRACE_SECONDS = 20.0  # later jobs: the box's kill, sweep and report, a replacement box
CLOSE_SECONDS = 15.0
STDERR_BYTES = 8000


def worker_env() -> dict[str, str]:
    """The trusted worker needs no secret: only the variables it needs to run and reach Docker."""
    return {k: v for k, v in os.environ.items() if k in WORKER_ENV or k.startswith("LC_")}


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc
        self.jobs = 0
        self.stderr = bytearray()
        self.reader = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while chunk := await self.proc.stderr.read(1 << 16):
            self.stderr += chunk
            del self.stderr[:-STDERR_BYTES]

    def alive(self) -> bool:
        return self.proc.returncode is None

    def stderr_text(self) -> str:
        return bytes(self.stderr).decode("utf-8", "replace")


class WorkerPool:
    """An Executor: jobs scored by trusted workers, candidates alone in boxes of `backend`."""

    def __init__(self, backend: BackendSpec, note: str = "", python: str = sys.executable, slots: int | None = None):
        self.name, self.note = backend.name, note
        self._backend, self._python = backend, python
        self._idle: dict[str, list[_Worker]] = defaultdict(list)
        self._all: set[_Worker] = set()
        self._slots = asyncio.Semaphore(slots) if slots else contextlib.nullcontext()

    async def run(self, job: SandboxJob, limits: Limits) -> Outcome:
        async with self._slots:
            return await self._run(job, limits)

    async def _run(self, job: SandboxJob, limits: Limits) -> Outcome:
        key = json.dumps(evaluator_to_json(job.evaluator), sort_keys=True)
        try:
            worker = await self._acquire(key, job.evaluator)
        except OSError as exc:
            return Outcome(failure="sandbox_error", detail=f"cannot start a trusted worker: {exc}")
        grace = START_GRACE_SECONDS if worker.jobs == 0 else JOB_GRACE_SECONDS
        worker.jobs += 1
        try:
            worker.proc.stdin.write(job_to_json(job, limits))
            await worker.proc.stdin.drain()
            line = await asyncio.wait_for(worker.proc.stdout.readline(), limits.wall_seconds + grace)
        except asyncio.CancelledError:  # the run is stopping: this job's worker is killed, not awaited
            await asyncio.shield(self._discard(worker))
            raise
        except asyncio.TimeoutError:
            await self._discard(worker)
            return Outcome(failure="timeout", detail=f"the evaluation overran its {limits.wall_seconds:g}s wall clock (worker killed)", wall_seconds=limits.wall_seconds)
        except (ConnectionError, OSError, ValueError) as exc:  # ValueError: a reply line beyond the limit
            await self._discard(worker)
            return Outcome(failure="sandbox_error", detail=f"the trusted worker failed: {exc}\n{worker.stderr_text()[-1500:]}")
        if not line:
            await self._discard(worker)
            return Outcome(failure="sandbox_error", detail=f"the trusted worker died:\n{worker.stderr_text()[-1500:]}")
        self._idle[key].append(worker)
        return outcome_from_json(line)

    async def aclose(self) -> None:
        workers, self._all = list(self._all), set()
        self._idle.clear()
        await asyncio.gather(*(self._close(w) for w in workers), return_exceptions=True)

    async def _acquire(self, key: str, ref: EvaluatorRef) -> _Worker:
        idle = self._idle[key]
        while idle:
            worker = idle.pop()
            if worker.alive():
                return worker
            await self._discard(worker)
        proc = await asyncio.create_subprocess_exec(
            self._python, "-m", "sandboxes.worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            limit=1 << 26, env=worker_env(),
        )  # fmt: skip
        worker = _Worker(proc)
        self._all.add(worker)
        config = {"evaluator": evaluator_to_json(ref), "backend": self._backend.to_json()}
        proc.stdin.write(json.dumps(config).encode() + b"\n")
        await proc.stdin.drain()
        return worker

    async def _close(self, worker: _Worker) -> None:
        """Ask politely (end of input: the worker removes its box), then kill."""
        try:
            worker.proc.stdin.close()
            await asyncio.wait_for(worker.proc.wait(), CLOSE_SECONDS)
        except (asyncio.TimeoutError, OSError, ConnectionError):
            pass
        await self._discard(worker)

    async def _discard(self, worker: _Worker) -> None:
        """Kill the worker; its boxes go with it (bwrap dies with its parent, containers are removed)."""
        self._all.discard(worker)
        if worker.alive():
            worker.proc.kill()
            await worker.proc.wait()
            if self.name == "docker":
                from sandboxes.container import remove_owned_by

                await asyncio.to_thread(remove_owned_by, worker.proc.pid)
        await asyncio.wait([worker.reader], timeout=2.0)
        worker.reader.cancel()
