"""Every problem's stage times through a warm sandbox, beside the times before the boundary.

    python benchmarks/problem_stages.py [--sandbox bwrap|docker|process] [--only NAME ...]
                                        [--problems-dir DIR] [--repeat 3]

For each problem folder, a trusted worker's path exactly as a run takes it (sandboxes.job on one
warm box): the evaluator is loaded once and its workloads built once (timed apart, "setup"), then
every program (seed and baselines) runs all stages, `--repeat` times; the best time per stage is
kept. The `before` column is the same stage through the same warm sandbox with the previous
design (candidate and evaluator in one process, commit fc661ef), measured on this kind of machine
(2 cores, idle) on 2026-11-27; that design rebuilt the workloads inside every job, so its train
times include them. The ratio is now / before; the issue's budget is 2x.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
from pathlib import Path

from evaluators.loading import load_evaluator
from evolve.errors import EvolveError
from evolve.problem import Problem, load_problem
from sandboxes.base import Limits, SandboxJob
from sandboxes.errors import SandboxUnavailable
from sandboxes.job import run_job
from sandboxes.worker import BackendSpec, build_backend

ROOT = Path(__file__).resolve().parent.parent / "problems"
LIMITS = Limits(wall_seconds=300, cpu_seconds=300, memory_mb=2048)
# (problem, program) -> train seconds through the warm sandbox before the boundary (bwrap, docker)
BEFORE = {
    ("eplb", "seed"): (0.167, 0.179), ("eplb", "deepseek"): (0.155, 0.176), ("eplb", "naive"): (0.070, 0.070),
    ("llm_routing", "seed"): (0.383, 0.312), ("llm_routing", "join_shortest_queue"): (0.356, 0.297),
    ("llm_routing", "least_kv"): (0.378, 0.312), ("llm_routing", "power_of_two"): (0.403, 0.351),
    ("llm_routing", "round_robin"): (0.340, 0.295),
    ("spot_multi", "seed"): (0.355, 0.529), ("spot_multi", "greedy_rr"): (0.385, 0.558),
    ("spot_multi", "uniform_progress_rr"): (0.415, 0.594),
    ("spot_single", "seed"): (0.132, 0.128), ("spot_single", "greedy"): (0.169, 0.159),
    ("spot_single", "uniform_progress"): (0.205, 0.188),
    ("txn_scheduling", "seed"): (0.054, 0.050), ("txn_scheduling", "sequential"): (0.040, 0.035),
    ("txn_scheduling", "smf"): (0.075, 0.064),
    ("vm_packing", "seed"): (0.592, 0.652), ("vm_packing", "best_fit"): (0.493, 0.513),
    ("vm_packing", "first_fit"): (0.415, 0.407),
}  # fmt: skip


def programs(problem: Problem) -> list[tuple[str, Path]]:
    return [("seed", problem.seed_path), *sorted(problem.baselines.items())]


def measure(problem: Problem, backend, repeat: int) -> tuple[float, list[tuple[str, dict[str, float], float | None]]]:
    """(setup seconds, [(program, best seconds per stage, train score)])."""
    evaluator = load_evaluator(problem.evaluator_ref)
    started = time.perf_counter()
    for stage in problem.all_stages:  # the workloads, built once per worker
        for name in ("scenarios", "workloads", "traces"):
            if hasattr(evaluator, name):
                getattr(evaluator, name)(stage)
    setup = time.perf_counter() - started
    gc.freeze()  # as a trusted worker does after each job: the workloads live on
    box = backend.open(LIMITS)
    rows = []
    try:
        for name, path in programs(problem):
            job = SandboxJob(path.read_text(encoding="utf-8"), problem.evaluator_ref, problem.all_stages, ranges=problem.ranges)
            best: dict[str, float] = {}
            score = None
            for _ in range(repeat):
                if box.broken:
                    box.close()
                    box = backend.open(LIMITS)
                outcome = run_job(evaluator, box, job, LIMITS)
                for frame in outcome.stages:
                    best[frame.stage] = min(best.get(frame.stage, float("inf")), frame.seconds)
                    if frame.stage == problem.train_stage and frame.result is not None:
                        score = frame.result.metrics.get(problem.objective.metric)
            rows.append((name, best, score))
    finally:
        box.close()
    return setup, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox", choices=("bwrap", "docker", "process"), default="bwrap")
    parser.add_argument("--problems-dir", type=Path, default=ROOT)
    parser.add_argument("--only", nargs="*", help="problem folder names to time (default: all)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    try:
        backend = build_backend(BackendSpec(args.sandbox))
    except SandboxUnavailable as exc:
        raise SystemExit(f"error: sandbox {args.sandbox}: {exc}") from None
    column = {"bwrap": 0, "docker": 1}.get(args.sandbox)
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; sandbox {args.sandbox} (warm)")
    print(f"{'problem':<15} {'program':<22} {'smoke':>7} {'train':>7} {'test':>7} {'before':>7} {'ratio':>6} {'score':>8}")
    folders = sorted(p for p in args.problems_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    for folder in folders:
        if args.only and folder.name not in args.only:
            continue
        try:
            problem = load_problem(folder)
        except EvolveError as exc:
            print(f"{folder.name:<15} cannot load: {exc}")
            continue
        setup, rows = measure(problem, backend, args.repeat)
        print(f"{folder.name:<15} {'(workloads, once)':<22} {setup:>7.3f}")
        for name, best, score in rows:
            before = BEFORE.get((folder.name, name), (None, None))[column] if column is not None else None
            train = best.get(problem.train_stage)
            ratio = f"{train / before:>5.2f}x" if before and train else "-"
            cells = " ".join(f"{best[s]:>7.3f}" if s in best else f"{'-':>7}" for s in problem.all_stages)
            shown = "-" if score is None else f"{score:8.2f}"
            print(f"{'':<15} {name:<22} {cells} {before if before else '-':>7} {ratio:>6} {shown:>8}")


if __name__ == "__main__":
    main()
