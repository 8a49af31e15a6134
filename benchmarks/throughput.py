"""Evaluation-slot use when LLM latency varies widely: before (one pool) and after (two pools).

The run's scheduler (evolve.loop.scheduler) drives scripted steps: each proposer call takes
between 0.1x and 10x the evaluation time (log-uniform, drawn per iteration from a fixed seed) and
each evaluation takes the evaluation time (+-20%), both as sleeps, so what is measured is the
scheduling alone. Slot use = time evaluations ran / (slots x wall time).

- before: iteration order with one pool, as every run was scheduled before two pools existed: an
  iteration holds its slot through its call and its evaluation, and commits wait for the earlier
  ones (`--workers N --llm-concurrency N --order iteration`)
- after: completion order with the two pools (`--workers N`, calls in flight by default 8 per
  slot): a slow call holds no evaluation slot, a slow evaluation blocks no other commit

With --ray, also evaluations per second through the Ray executor with 1..N actors on a local
Ray (the toy problem with a 0.3 s train stage, in the process backend), to show it scales.

Usage: python benchmarks/throughput.py [--slots 4] [--iterations 200] [--eval-seconds 0.1] [--ray]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evolve.loop.orders import CompletionOrder, IterationOrder, Order  # noqa: E402
from evolve.loop.scheduler import Scheduler  # noqa: E402
from evolve.loop.stopping import Stop  # noqa: E402


@dataclass(frozen=True)
class _Step:
    """What the scheduler passes along for one iteration (it only reads the iteration)."""

    iteration: int


class ScriptedSteps:
    """Steps whose proposer calls and evaluations are sleeps of scripted lengths."""

    def __init__(self, eval_seconds: float, seed: int, slots: int):
        self.eval_seconds, self.seed = eval_seconds, seed
        self._slots = asyncio.Semaphore(slots)  # as the executor holds at most `slots` evaluations
        self.applied = 0
        self.busy = 0.0
        self.first: float | None = None
        self.last = 0.0

    def plan(self, iteration: int) -> _Step:
        return _Step(iteration)

    def _rng(self, iteration: int) -> random.Random:
        return random.Random(f"{self.seed}:{iteration}")

    async def propose(self, plan: _Step) -> _Step:
        factor = math.exp(self._rng(plan.iteration).uniform(math.log(0.1), math.log(10.0)))
        await asyncio.sleep(factor * self.eval_seconds)
        return plan

    async def evaluate(self, proposed: _Step) -> _Step:
        async with self._slots:
            started = time.perf_counter()
            self.first = started if self.first is None else min(self.first, started)
            await asyncio.sleep(self.eval_seconds * self._rng(-proposed.iteration).uniform(0.8, 1.2))
            self.last = time.perf_counter()
            self.busy += self.last - started
        return proposed

    def commit(self, finished: _Step) -> None:
        self.applied += 1

    def keep_uncommitted(self, paid: list) -> None:
        pass


async def slot_use(order: Order, slots: int, calls: int, eval_seconds: float, seed: int) -> tuple[float, float]:
    """(slot use, wall seconds) of one scripted run."""
    steps = ScriptedSteps(eval_seconds, seed, slots)
    scheduler = Scheduler(steps, order, Stop(time.monotonic), calls=calls, slots=slots)
    await scheduler.run()
    assert scheduler.complete
    wall = steps.last - (steps.first or steps.last)
    return steps.busy / (slots * wall), wall


def ray_scaling(max_workers: int, jobs_per_worker: int, eval_seconds: float) -> list[tuple[int, float]]:
    """Evaluations per second through RayPool with 1..max_workers actors (the toy problem whose
    train stage waits `eval_seconds` in the trusted worker, as a slow simulator would)."""
    import shutil
    import tempfile

    from evolve.problem import load_problem
    from evolve.scoring import Scorer
    from sandboxes.choose import backend_spec
    from sandboxes.ray_pool import RayPool

    folder = Path(tempfile.mkdtemp(prefix="evolve-throughput-")) / "toy"
    shutil.copytree(ROOT / "tests" / "fixtures" / "toy", folder)
    toml = folder / "problem.toml"
    toml.write_text(toml.read_text().replace("delay = 0.0", f"delay = {eval_seconds}"))
    problem = load_problem(folder)
    backend, note = backend_spec("process")
    out = []
    for workers in range(1, max_workers + 1):
        async def go() -> float:
            pool = RayPool(backend, workers, None, note)
            scorer = Scorer(problem, pool, _limits())
            try:
                await asyncio.gather(*(scorer.score(problem.seed_code, threshold=None) for _ in range(workers)))  # warm
                started = time.perf_counter()
                await asyncio.gather(*(scorer.score(problem.seed_code, threshold=None) for _ in range(workers * jobs_per_worker)))
                return workers * jobs_per_worker / (time.perf_counter() - started)
            finally:
                await pool.aclose()

        out.append((workers, asyncio.run(go())))
    return out


def _limits():
    from sandboxes.base import Limits

    return Limits(wall_seconds=60, cpu_seconds=60, memory_mb=1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=4, help="evaluation slots (--workers)")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--eval-seconds", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ray", action="store_true", help="also measure Ray scaling from 1 to --ray-workers actors")
    parser.add_argument("--ray-workers", type=int, default=2)
    parser.add_argument("--ray-eval-seconds", type=float, default=0.3)
    args = parser.parse_args()
    todo = range(1, args.iterations + 1)
    calls_after = max(16, 8 * args.slots)
    cases = [
        ("before: one pool, iteration order", IterationOrder(todo, lag=args.slots), args.slots),
        ("after: two pools, completion order", CompletionOrder(todo), calls_after),
    ]
    print(f"{args.iterations} iterations, {args.slots} evaluation slots, evaluations {args.eval_seconds:g}s, "
          f"calls 0.1x..10x that (log-uniform)")  # fmt: skip
    print(f"{'schedule':<36} {'calls in flight':>15} {'slot use':>9} {'wall s':>7}")
    for label, order, calls in cases:
        use, wall = asyncio.run(slot_use(order, args.slots, calls, args.eval_seconds, args.seed))
        print(f"{label:<36} {calls:>15} {use:>8.0%} {wall:>7.1f}")
    if args.ray:
        print(f"\nRay executor (local Ray, toy problem with a {args.ray_eval_seconds:g}s train stage, process backend): evaluations per second")
        for workers, rate in ray_scaling(args.ray_workers, 8, args.ray_eval_seconds):
            print(f"  {workers} worker{'s' if workers > 1 else ' '}  {rate:6.1f}/s")


if __name__ == "__main__":
    main()
