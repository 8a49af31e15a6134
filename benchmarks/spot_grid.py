"""Time the spot_single stages (smoke, train, test) for the seed and both baselines on ONE core.

    python benchmarks/spot_grid.py [--sandbox bwrap|docker|process] [--repeat N]

The production path: the evaluator here (as in a trusted worker), the candidate alone in a warm
box, all scenarios of a stage in lockstep (one round trip per tick). This process is pinned to
one core before the box starts, so the box (bwrap, process) inherits the pin: evaluator and
candidate share that one core, which is the question ("the 1080-scenario grid on one core").
Trace generation is timed once, apart from the per-candidate stage runs. The last column, "no
boundary", is the same stage with the policy run in this process (the shipped programs are trusted
here): the program's and the simulator's own work, which no design can avoid, so the column left of
it shows what the boundary adds.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from evaluators.protocol import EvaluatorRef
from evaluators.spot import lockstep
from evaluators.spot.evaluator import SpotEvaluator
from evaluators.spot.simulator import Observation
from sandboxes.base import Limits, SandboxJob
from sandboxes.job import run_job
from sandboxes.worker import BackendSpec, build_backend

PROBLEM = Path(__file__).resolve().parent.parent / "problems" / "spot_single"
PROGRAMS = {
    "seed": PROBLEM / "seed.py",
    "greedy": PROBLEM / "baselines" / "greedy.py",
    "uniform_progress": PROBLEM / "baselines" / "uniform_progress.py",
    "up_eager": PROBLEM / "baselines" / "uniform_progress_eager.py",
}
LIMITS = Limits(wall_seconds=120, cpu_seconds=120, memory_mb=2048)
REF = EvaluatorRef("evaluators.spot.evaluator:SpotEvaluator", str(PROBLEM))


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def in_process_seconds(evaluator: SpotEvaluator, stage: str, code: str) -> float:
    """The stage in lockstep with the policy in this process: no sandbox, no socket, no codec."""
    namespace: dict = {"__name__": "candidate"}
    exec(compile(code, "candidate.py", "exec"), namespace)  # a shipped program, trusted here
    scenarios = evaluator.scenarios(stage)
    started = time.perf_counter()
    policies = [namespace["Policy"](s.spec) for s in scenarios]

    def decide(active, columns):
        rows = zip(*(columns[name].tolist() for name in lockstep.FIELDS))
        return [policies[i].decide(Observation(*row)) for i, row in zip(active.tolist(), rows)]

    lockstep.run([s.spec for s in scenarios], [(s.available,) for s in scenarios], decide)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox", choices=("bwrap", "docker", "process"), default="bwrap")
    parser.add_argument("--repeat", type=int, default=3, help="runs per program; the fastest stage time is reported")
    args = parser.parse_args()
    pin_one_core()

    evaluator = SpotEvaluator()
    start = time.perf_counter()
    for stage in evaluator.stages:
        evaluator.scenarios(stage)
    print(f"trace generation (all stages, once per evaluator): {time.perf_counter() - start:.3f} s")
    box = build_backend(BackendSpec(args.sandbox)).open(LIMITS)
    print(f"sandbox {args.sandbox} (warm), one core; the candidate is called once per tick for every scenario\n")
    print(f"{'program':<18} {'stage':<6} {'scenarios':>9} {'seconds':>8} {'score':>7} {'avg $':>8}  valid  {'no boundary':>11}")
    try:
        for name, path in PROGRAMS.items():
            job = SandboxJob(path.read_text(encoding="utf-8"), REF, evaluator.stages)
            best: dict[str, float] = {}
            results = {}
            for _ in range(max(1, args.repeat)):
                outcome = run_job(evaluator, box, job, LIMITS)
                for frame in outcome.stages:
                    best[frame.stage] = min(best.get(frame.stage, float("inf")), frame.seconds)
                    results[frame.stage] = frame.result
            for stage in evaluator.stages:
                m = results[stage].metrics
                alone = min(in_process_seconds(evaluator, stage, job.code) for _ in range(max(1, args.repeat)))
                print(
                    f"{name:<18} {stage:<6} {int(m['scenarios']):>9} {best[stage]:>8.3f} {m['score']:>7.2f} "
                    f"{m['avg_cost']:>8.2f}  {str(results[stage].valid):<5}  {alone:>11.3f}"
                )
    finally:
        box.close()


if __name__ == "__main__":
    main()
