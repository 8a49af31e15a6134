"""Time the spot_single stages (smoke, train, test) for the seed and both baselines on one core.

    python benchmarks/spot_grid.py [--repeat N]

Candidates are loaded the way the sandbox runner loads them (spec_from_file_location +
exec_module). Trace generation is timed once, apart from the per-candidate stage runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

from evaluators.spot.evaluator import SpotEvaluator

PROBLEM = Path(__file__).resolve().parent.parent / "problems" / "spot_single"
PROGRAMS = {
    "seed": PROBLEM / "seed.py",
    "greedy": PROBLEM / "baselines" / "greedy.py",
    "uniform_progress": PROBLEM / "baselines" / "uniform_progress.py",
}


def load_candidate(path: Path):
    spec = importlib.util.spec_from_file_location("candidate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per stage; the fastest is reported")
    args = parser.parse_args()
    pin_one_core()

    evaluator = SpotEvaluator()
    start = time.perf_counter()
    for stage in evaluator.stages:
        evaluator.scenarios(stage)
    print(f"trace generation (all stages, once per evaluator): {time.perf_counter() - start:.3f} s\n")

    print(f"{'program':<18} {'stage':<6} {'scenarios':>9} {'seconds':>8} {'score':>7} {'avg $':>8}  valid")
    for name, path in PROGRAMS.items():
        module = load_candidate(path)
        for stage in evaluator.stages:
            best = float("inf")
            for _ in range(max(1, args.repeat)):
                start = time.perf_counter()
                result = evaluator.run_stage(stage, module)
                best = min(best, time.perf_counter() - start)
            m = result.metrics
            print(
                f"{name:<18} {stage:<6} {int(m['scenarios']):>9} {best:>8.3f} {m['score']:>7.2f} "
                f"{m['avg_cost']:>8.2f}  {result.valid}"
            )


if __name__ == "__main__":
    main()
