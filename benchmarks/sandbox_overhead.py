"""What each sandbox backend costs per evaluation: a trivial job, end to end through trusted workers.

    python benchmarks/sandbox_overhead.py [--jobs 50] [--workers 2]

The job is sandboxes.probe: the trusted worker starts a candidate job in its box, loads a two-line
candidate, makes one call across the boundary, ends the job (kill, sweep, report). There is no
in-process baseline any more (the candidate never shares the evaluator's process), so the
latency is the overhead. Latency: `--jobs` sequential jobs after one warm-up; throughput: the
same number of jobs with `--workers` in flight. Cold rows start a fresh box for every job.
Goals: docker warm pool <= 30 ms p50, bwrap warm pool <= 10 ms, docker cold <= 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform

from sandboxes.check import scratch_problem_dir, time_sandbox
from sandboxes.choose import make_sandbox
from sandboxes.errors import SandboxUnavailable

GOALS_MS = {"docker cold": 250, "docker warm pool": 30, "bwrap warm pool": 10}
BACKENDS = [
    ("docker cold", "docker", 1),
    ("docker warm pool", "docker", None),
    ("bwrap cold", "bwrap", 1),
    ("bwrap warm pool", "bwrap", None),
    ("process", "process", None),
]


async def measure(jobs: int, workers: int) -> None:
    with scratch_problem_dir() as problem_dir:
        print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
        header = f"{'backend':<18} {'p50 ms':>8} {'p95 ms':>8} {'jobs/s':>8} {'goal p50':>9} {'failed':>6}"
        print(header)
        print("-" * len(header))
        for label, name, max_uses in BACKENDS:
            try:
                sandbox = make_sandbox(name, max_uses=max_uses)
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
                f"{label:<18} {p50:>8.1f} {p95:>8.1f} {timing.throughput:>8.1f} "
                f"{'-' if goal is None else f'<= {goal}':>9} {timing.failures:>6}"
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
