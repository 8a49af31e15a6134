"""What each sandbox backend adds per evaluation, over running the same trivial job in-process.

    python benchmarks/sandbox_overhead.py [--jobs 50] [--workers 2]

The job is sandboxes.probe (load a tiny trusted evaluator, import a two-line candidate, run one
stage). Latency: `--jobs` sequential jobs after one warm-up; overhead = latency minus the median
in-process time. Throughput: the same number of jobs with `--workers` in flight.
Goals: docker warm pool <= 30 ms p50, bwrap warm pool <= 10 ms, docker cold <= 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform

from sandboxes.check import in_process_seconds, median_ms, scratch_problem_dir, time_sandbox
from sandboxes.errors import SandboxUnavailable

GOALS_MS = {"docker cold": 250, "docker warm pool": 30, "bwrap warm pool": 10}


def backends():
    """(label, factory) in table order; a factory raises SandboxUnavailable when it cannot run."""
    from sandboxes.bwrap import BwrapSandbox, bwrap_works
    from sandboxes.container import DockerSandbox
    from sandboxes.process import ProcessSandbox

    def bwrap(warm: bool):
        problem = bwrap_works()
        if problem:
            raise SandboxUnavailable(problem)
        return BwrapSandbox(warm=warm)

    return [
        ("docker cold", lambda: DockerSandbox(warm=False)),
        ("docker warm pool", lambda: DockerSandbox(warm=True)),
        ("bwrap cold", lambda: bwrap(False)),
        ("bwrap warm pool", lambda: bwrap(True)),
        ("process", ProcessSandbox),
    ]


async def measure(jobs: int, workers: int) -> None:
    with scratch_problem_dir() as problem_dir:
        baseline = median_ms(in_process_seconds(jobs, problem_dir))
        print(f"in-process baseline: {baseline:.2f} ms per job (median of {jobs})")
        print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
        header = f"{'backend':<18} {'p50 ms':>8} {'p95 ms':>8} {'overhead p50':>13} {'overhead p95':>13} {'jobs/s':>8} {'goal p50':>9} {'failed':>6}"
        print(header)
        print("-" * len(header))
        for label, factory in backends():
            try:
                sandbox = factory()
            except SandboxUnavailable as exc:
                print(f"{label:<18} unavailable: {exc}")
                continue
            try:
                timing = await time_sandbox(sandbox, jobs, workers, problem_dir)
            finally:
                await sandbox.aclose()
            p50, p95 = timing.percentile(0.5) * 1000, timing.percentile(0.95) * 1000
            goal = GOALS_MS.get(label)
            print(
                f"{label:<18} {p50:>8.1f} {p95:>8.1f} {p50 - baseline:>13.1f} {p95 - baseline:>13.1f} "
                f"{timing.throughput:>8.1f} {'-' if goal is None else f'<= {goal}':>9} {timing.failures:>6}"
            )
        print(f"(jobs/s with {workers} workers in flight; {jobs} jobs per figure)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(measure(args.jobs, args.workers))


if __name__ == "__main__":
    main()
