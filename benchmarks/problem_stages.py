"""Time every problem's stages for its seed and baselines, in-process and through the sandbox.

    python benchmarks/problem_stages.py [--problems-dir DIR] [--only NAME ...] [--no-sandbox]

For each problem folder: the evaluator is loaded once in-process (workload generation timed
apart, on first use of each stage), then every program runs each stage in-process (one core,
pinned); then each program runs all stages in one job of the process sandbox, where the
runner's own per-stage seconds and the job's wall time (interpreter start, imports, workload
generation included) are reported. A folder that does not load is reported and skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import time
from pathlib import Path

from evaluators.loading import load_evaluator
from evolve.config import build_config
from evolve.errors import EvolveError
from evolve.problem import Problem, load_problem
from evolve.scoring import Scorer
from sandboxes.process import ProcessSandbox

ROOT = Path(__file__).resolve().parent.parent / "problems"


def load_candidate(path: Path):
    spec = importlib.util.spec_from_file_location("candidate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def programs(problem: Problem) -> list[tuple[str, Path]]:
    return [("seed", problem.seed_path), *sorted(problem.baselines.items())]


def in_process(problem: Problem) -> list[tuple[str, str, float, float | None, bool]]:
    evaluator = load_evaluator(problem.evaluator_ref)
    rows = []
    setup = getattr(evaluator, "workloads", None) or getattr(evaluator, "scenarios", None)
    if setup is not None:
        for stage in problem.all_stages:
            start = time.perf_counter()
            setup(stage)
            rows.append(("(workloads)", stage, time.perf_counter() - start, None, True))
    for name, path in programs(problem):
        module = load_candidate(path)
        for stage in problem.all_stages:
            start = time.perf_counter()
            result = evaluator.run_stage(stage, module)
            rows.append((name, stage, time.perf_counter() - start, result.metrics.get(problem.objective.metric), result.valid))
    return rows


async def sandboxed(problem: Problem) -> list[tuple[str, str, float, float | None, bool]]:
    sandbox = ProcessSandbox()
    defaults = problem.run_defaults
    config = build_config({"timeout_seconds": defaults.timeout_seconds, "memory_mb": defaults.memory_mb})
    scorer = Scorer(problem, sandbox, config.limits())
    rows = []
    try:
        for name, path in programs(problem):
            outcome = await scorer.run(scorer.job(path.read_text(encoding="utf-8"), None, problem.all_stages))
            for stage in problem.all_stages:
                so = outcome.stage(stage)
                if so is None or so.result is None:
                    rows.append((name, stage, so.seconds if so else 0.0, None, False))
                    continue
                rows.append((name, stage, so.seconds, so.result.metrics.get(problem.objective.metric), so.result.valid))
            rows.append((name, "(job wall)", outcome.wall_seconds, None, outcome.failure is None))
    finally:
        await sandbox.aclose()
    return rows


def print_rows(title: str, rows) -> None:
    print(f"  {title}")
    print(f"    {'program':<22} {'stage':<11} {'seconds':>8} {'score':>9}  valid")
    for name, stage, seconds, score, valid in rows:
        shown = "" if score is None else f"{score:9.2f}"
        print(f"    {name:<22} {stage:<11} {seconds:>8.3f} {shown:>9}  {'' if score is None and valid else valid}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems-dir", type=Path, default=ROOT)
    parser.add_argument("--only", nargs="*", help="problem folder names to time (default: all)")
    parser.add_argument("--no-sandbox", action="store_true", help="skip the sandboxed runs")
    args = parser.parse_args()
    pin_one_core()
    folders = sorted(p for p in args.problems_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    for folder in folders:
        if args.only and folder.name not in args.only:
            continue
        print(f"\n== {folder.name}")
        try:
            problem = load_problem(folder)
        except EvolveError as exc:
            print(f"  cannot load: {exc}")
            continue
        print_rows("in-process (one core)", in_process(problem))
        if not args.no_sandbox:
            print_rows("process sandbox (one job per program: all stages)", asyncio.run(sandboxed(problem)))


if __name__ == "__main__":
    main()
