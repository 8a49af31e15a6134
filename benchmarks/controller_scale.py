"""How the controller's costs grow with the population: 1k, 10k and 100k candidates.

For each size N, a store filled as a long offline run of spot_single would fill it (3 kB programs,
benchmarks/filled_store.py; cached under runs/bench-scale/, git-ignored) is copied and resumed for
a few more iterations in a fresh process, which reports:

- ms/iter p50, p95: the controller process's own CPU time between two commits (planning, child
  checks and hashing, the store write, selection; evaluations run in worker processes and cost it
  nothing), so this is the controller's overhead per iteration, not the evaluation's time. The
  offline mutator proposes in this process too (an AST walk of the 3 kB parent): its CPU time is
  measured apart and left out (column "mutator ms", its mean), as an LLM's call would be
- resume s: from opening the run to its first new plan (the population rebuilt from the store)
- RSS MB: the controller's resident memory at the end, and its peak
- then each reporting command as a user runs it (`evolve status`, `status RUN`, `best RUN`,
  `export RUN`), wall seconds including Python's start-up, which `--help` shows alone

When the `openevolve` package is installed, the same per-iteration cost is measured for its
ProgramDatabase holding N programs of the same size (what its parallel controller does per
iteration: sample a parent and inspirations, snapshot the database for the worker and pickle it,
add the child, count the island's generation, migrate when due), and printed with the ratio. Its
database is filled by direct insertion (its own `add` of 100k programs would take hours), then
measured through its own methods.

Usage: python benchmarks/controller_scale.py [--sizes 1000,10000,100000] [--iterations 40]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

CACHE = ROOT / "runs" / "bench-scale"
FILLER_VERSION = "1"  # bump when filled_store.py changes what it writes
COMMANDS = (("--help",), ("status",), ("status", "{run}"), ("best", "{run}"), ("export", "{run}", "--out", "{out}"))


def filled(n: int) -> Path:
    """The cached runs folder holding one filled run named offline-N (filled now if missing)."""
    folder = CACHE / f"v{FILLER_VERSION}-{n}"
    name = f"offline-{n}"
    if (folder / name / "evolve.db").exists():
        return folder
    from filled_store import generate

    shutil.rmtree(folder, ignore_errors=True)
    (folder / name).mkdir(parents=True)
    started = time.perf_counter()
    print(f"filling a store with {n} candidates ...", file=sys.stderr, flush=True)
    generate(f"sqlite:///{folder / name / 'evolve.db'}", n, False, random.Random(n), name=name)
    print(f"  filled in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return folder


class _Clock:
    """An event sink: when the population was rebuilt, and the CPU time at every commit."""

    def __init__(self, started: float):
        self.started, self.resumed, self.cpu = started, None, []

    def emit(self, event) -> None:
        from evolve.events import IterationDone, Resumed

        if isinstance(event, Resumed):
            self.resumed = time.perf_counter() - self.started
        elif isinstance(event, IterationDone):
            self.cpu.append(time.process_time())


def measure_one(runs_dir: Path, name: str, more: int) -> dict:
    """In this (fresh) process: resume the run for `more` iterations; its costs as a dict."""
    from evolve.config import build_config
    from evolve.problem import load_problem
    from evolve.run_folders import RunPlace, open_run
    from evolve.runs import execute

    from evolve.proposers.offline import OfflineMutator

    mutator_cpu: list[float] = []
    propose = OfflineMutator.propose

    async def timed_propose(self, request):  # no await inside the mutator: CPU time is its own
        started = time.process_time()
        try:
            return await propose(self, request)
        finally:
            mutator_cpu.append(time.process_time() - started)

    OfflineMutator.propose = timed_propose
    started = time.perf_counter()
    handle = open_run(name, RunPlace(runs_dir, None))
    config = build_config(handle.run.config, {"iterations": handle.run.iterations_done + more, "workers": 2})
    clock = _Clock(started)
    asyncio.run(execute(handle, load_problem(Path(handle.run.problem_path)), config, clock))
    mutator = statistics.mean(mutator_cpu)
    steps = [1000 * (b - a - mutator) for a, b in zip(clock.cpu, clock.cpu[1:])]
    rss = int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() >> 20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
    return {
        "p50": statistics.median(steps),
        "p95": sorted(steps)[int(0.95 * (len(steps) - 1))],
        "mutator": 1000 * mutator,
        "resume": clock.resumed,
        "rss": rss,
        "peak": peak,
    }


def openevolve_one(n: int, more: int) -> float:
    """In this (fresh) process: OpenEvolve's controller-side database work per iteration, ms (p50)."""
    import pickle
    import types

    from openevolve.config import DatabaseConfig
    from openevolve.database import Program, ProgramDatabase
    from openevolve.process_parallel import ProcessParallelController

    from filled_store import PADDING, PROBLEM

    seed = (PROBLEM / "seed.py").read_text() + PADDING * 2
    rng = random.Random(n)
    db = ProgramDatabase(DatabaseConfig(in_memory=True, population_size=n + more + 1, archive_size=100, num_islands=4))
    for i in range(n):
        program = Program(id=f"p{i}", code=seed.replace("0.5", f"{rng.uniform(0, 1):.4f}", 1), generation=i // 100,
                          iteration_found=i, metrics={"combined_score": rng.uniform(0, 60)})  # fmt: skip
        program.metadata["island"] = i % 4
        db.programs[program.id] = program
        db.islands[i % 4].add(program.id)
        db.archive.add(program.id) if len(db.archive) < 100 else None
    db.best_program_id = "p0"
    controller = types.SimpleNamespace(database=db)
    steps = []
    for k in range(more):
        started = time.process_time()
        island = db.current_island
        parent, inspirations = db.sample_from_island(island_id=island, num_inspirations=5)
        pickle.dumps(ProcessParallelController._create_database_snapshot(controller))
        child = Program(id=f"c{k}", code=parent.code.replace("0.", "0.1", 1), parent_id=parent.id,
                        generation=parent.generation + 1, iteration_found=n + k, metrics={"combined_score": rng.uniform(0, 60)})  # fmt: skip
        db.add(child, iteration=n + k, target_island=island)
        db.increment_island_generation(island_idx=island)
        if db.should_migrate():
            db.migrate_programs()
        steps.append(1000 * (time.process_time() - started))
    return statistics.median(steps)


def time_command(args: tuple[str, ...], runs_dir: Path, name: str, out: Path) -> float:
    argv = [a.format(run=name, out=out) for a in args]
    if argv != ["--help"]:
        argv += ["--runs-dir", str(runs_dir)]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "evolve.cli", *argv], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"evolve {' '.join(argv)} failed: {done.stderr.strip()[-400:]}")
    return seconds


def measure(n: int, more: int) -> dict:
    source = filled(n)
    name = f"offline-{n}"
    with tempfile.TemporaryDirectory(prefix="evolve-scale-") as tmp:
        runs_dir = Path(tmp) / "runs"
        shutil.copytree(source, runs_dir)
        commands = {" ".join(a).replace("{run}", "RUN").replace(" --out {out}", ""): time_command(a, runs_dir, name, Path(tmp) / "export") for a in COMMANDS}  # fmt: skip
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(runs_dir), name, str(more)], cwd=ROOT, capture_output=True, text=True
        )
        if child.returncode != 0:
            raise SystemExit(f"resuming {name} failed: {child.stderr.strip()[-800:]}")
        row = {"n": n, **json.loads(child.stdout.strip().splitlines()[-1]), **commands}
    if importlib.util.find_spec("openevolve") is not None:
        theirs = subprocess.run([sys.executable, __file__, "--openevolve", str(n), str(min(more, 20))], cwd=ROOT, capture_output=True, text=True)
        if theirs.returncode != 0:
            raise SystemExit(f"OpenEvolve's database at {n} failed: {theirs.stderr.strip()[-800:]}")
        row["openevolve"] = float(theirs.stdout.strip().splitlines()[-1])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--iterations", type=int, default=40, help="new iterations per size (the per-iteration sample)")
    parser.add_argument("--one", nargs=3, metavar=("RUNS_DIR", "RUN", "MORE"), help=argparse.SUPPRESS)
    parser.add_argument("--openevolve", nargs=2, metavar=("N", "MORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.openevolve:
        logging.disable(logging.CRITICAL)
        print(openevolve_one(int(args.openevolve[0]), int(args.openevolve[1])))
        return
    if args.one:
        print(json.dumps(measure_one(Path(args.one[0]), args.one[1], int(args.one[2]))))
        return
    rows = [measure(int(n), args.iterations) for n in args.sizes.split(",")]
    print_table(rows)


def print_table(rows: list[dict]) -> None:
    commands = [k for k in rows[0] if k not in ("n", "p50", "p95", "mutator", "resume", "rss", "peak", "openevolve")]
    head = ["N", "ms/iter p50", "p95", "mutator ms", "resume s", "RSS MB", "peak MB", *commands]
    lines = [head]
    for r in rows:
        lines.append([f"{r['n']:,}", f"{r['p50']:.1f}", f"{r['p95']:.1f}", f"{r['mutator']:.1f}", f"{r['resume']:.2f}", str(r["rss"]), str(max(r["peak"], r["rss"])),
                      *(f"{r[c]:.2f}" for c in commands)])  # fmt: skip
        if "openevolve" in r:
            lines[-1] += [f"{r['openevolve']:.1f}", f"{r['openevolve'] / r['p50']:.1f}x"]
    if "openevolve" in rows[0]:
        head += ["OpenEvolve ms/iter", "ratio"]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for k, line in enumerate(lines):
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))
    print("(reporting commands: wall seconds, Python start-up included; --help is that start-up alone)")


if __name__ == "__main__":
    main()
