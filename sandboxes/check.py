"""Measure what a backend costs per job: a trivial job (one call to the candidate) in each sandbox.

There is no in-process baseline: the candidate never runs in the evaluator's process, so a job's
whole wall time (starting the candidate, one round trip, cleaning up) is the backend's overhead.
Shared by `evolve sandbox check` (a few jobs) and benchmarks/sandbox_overhead.py (many).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass

from sandboxes.base import Executor, Limits, SandboxJob
from sandboxes.probe import PROBE_CODE, probe_ref

LIMITS = Limits(wall_seconds=30, cpu_seconds=30, memory_mb=512)


@dataclass(frozen=True)
class Timing:
    """Per-job wall seconds (sequential), and jobs per second with `workers` in flight."""

    seconds: tuple[float, ...]
    throughput: float
    failures: int

    def percentile(self, q: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def time_sandbox(sandbox: Executor, jobs: int, workers: int, problem_dir: str) -> Timing:
    job = SandboxJob(code=PROBE_CODE, evaluator=probe_ref(problem_dir), stages=("probe",))
    await sandbox.run(job, LIMITS)  # warm-up (starts the pool, fills page caches)
    seconds, failures = [], 0
    for _ in range(jobs):
        started = time.perf_counter()
        outcome = await sandbox.run(job, LIMITS)
        seconds.append(time.perf_counter() - started)
        failures += outcome.failure is not None
    started = time.perf_counter()
    outcomes = await _concurrently(sandbox, job, jobs, workers)
    throughput = jobs / (time.perf_counter() - started)
    failures += sum(o.failure is not None for o in outcomes)
    return Timing(tuple(seconds), throughput, failures)


async def _concurrently(sandbox: Executor, job: SandboxJob, jobs: int, workers: int) -> list:
    queue = list(range(jobs))
    outcomes = []

    async def worker() -> None:
        while queue:
            queue.pop()
            outcomes.append(await sandbox.run(job, LIMITS))

    await asyncio.gather(*(worker() for _ in range(workers)))
    return outcomes


def scratch_problem_dir() -> tempfile.TemporaryDirectory:
    """An empty folder to stand in for a problem folder (the probe evaluator needs no files)."""
    return tempfile.TemporaryDirectory(prefix="evolve-probe-")


def median_ms(values: tuple[float, ...]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


@dataclass(frozen=True)
class BackendCheck:
    name: str
    problem: str | None  # None: works here
    note: str = ""
    timing: Timing | None = None

    def overhead_ms(self, q: float) -> float:
        return self.timing.percentile(q) * 1000 if self.timing else float("nan")


async def check_backends(jobs: int, workers: int, names=("docker", "bwrap", "process")) -> list[BackendCheck]:
    """Which backends work here, and what a trivial job costs in each."""
    from sandboxes.choose import make_sandbox
    from sandboxes.errors import SandboxUnavailable

    checks = []
    with scratch_problem_dir() as problem_dir:
        for name in names:
            try:
                sandbox = make_sandbox(name)
            except SandboxUnavailable as exc:
                checks.append(BackendCheck(name, str(exc)))
                continue
            try:
                timing = await time_sandbox(sandbox, jobs, workers, problem_dir)
            finally:
                await sandbox.aclose()
            problem = f"{timing.failures} of {2 * jobs} probe jobs failed" if timing.failures else None
            checks.append(BackendCheck(name, problem, getattr(sandbox, "note", ""), timing))
    return checks
