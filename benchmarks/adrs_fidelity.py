"""Score every published ADRS program and baseline through our evaluators in published-compatible mode.

    python benchmarks/adrs_fidelity.py LEADERBOARD_DIR [--problems spot_single ...]
        [--eplb-workload expert-load.json] [--sandbox process|bwrap|docker] [--timeout 1800]
        [--write-programs DIR] [--no-reference]

LEADERBOARD_DIR is a local checkout of UCB-ADRS/ADRS-Leaderboard (yours; nothing of it is in
this repository). For each of spot_single, spot_multi, eplb and txn_scheduling, every program
the checkout publishes (benchmarks/leaderboard.py: its source behind our shim) runs the train
stage of our evaluator with the published model and data (the checkout's real traces, its txn
workloads, the expert-load file you give), through the sandbox, as `evolve eval` would. Printed
beside it: the published value (results.json: the spot problems' average cost) or, where the
checkout publishes none (eplb, txn), the value the checkout's own simulator computes for the
same program (benchmarks/leaderboard_reference.py; --no-reference skips it), with the
difference, and whether our ordering of the programs is the published one.

eplb needs the leaderboard's workload file (its problems/eplb/download_datasets.sh fetches it;
default LEADERBOARD_DIR/datasets/eplb/expert-load.json) and torch where the candidates run: the
process sandbox (the default here) uses this Python's. --write-programs DIR keeps the generated
programs, e.g. for `evolve eval spot_single DIR/spot_single/gepa.py --param model=published
--param traces=LEADERBOARD_DIR/problems/cant_be_late/resources/real_traces.tar.gz`.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from leaderboard import PROBLEMS, TRACES, CheckoutError, Published, programs, wrapper
from leaderboard_reference import eplb_reference, txn_reference

from evaluators.loading import load_evaluator
from evolve.errors import EvolveError
from evolve.problem import load_problem, with_params
from evolve.problems_index import shipped_root
from sandboxes.base import Limits, SandboxJob
from sandboxes.job import run_job
from sandboxes.worker import BackendSpec, build_backend

# what we compare, and how close counts as reproduced
MEASURE = {"spot_single": ("avg_cost", "$", 0.01), "spot_multi": ("avg_cost", "$", 0.01),
           "eplb": ("balancedness", "B", 1e-5), "txn_scheduling": ("score", "score", 1e-9)}  # fmt: skip


@dataclass(frozen=True)
class Row:
    problem: str
    program: str
    ours: float | None
    published: float | None
    source: str  # where the published value comes from
    note: str


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("leaderboard", type=Path)
    parser.add_argument("--problems", nargs="*", choices=tuple(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument("--eplb-workload", type=Path, help="the leaderboard's expert-load.json")
    parser.add_argument("--sandbox", choices=("process", "bwrap", "docker"), default="process")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per program")
    parser.add_argument("--write-programs", type=Path, help="also write the generated programs here")
    parser.add_argument("--no-reference", action="store_true", help="skip running the checkout's own simulators")
    args = parser.parse_args()
    root = args.leaderboard.expanduser().resolve()
    try:
        listed = {p: programs(root, p) for p in args.problems}
    except CheckoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    backend = build_backend(BackendSpec(args.sandbox))
    limits = Limits(wall_seconds=args.timeout, cpu_seconds=int(args.timeout), memory_mb=4096)
    rows: list[Row] = []
    for problem, published in listed.items():
        params = _params(problem, root, args.eplb_workload)
        if isinstance(params, str):
            rows.extend(Row(problem, p.name, None, None, "-", params) for p in published)
            continue
        rows.extend(_score(problem, params, published, root, args, backend, limits))
    _print(rows)
    return 0


def _params(problem: str, root: Path, eplb_workload: Path | None) -> dict | str:
    """Our evaluator's parameters for the published mode, or why the problem is skipped."""
    if problem in TRACES:
        return {"model": "published", "traces": str(root / TRACES[problem])}
    if problem == "txn_scheduling":
        return {"workloads": str(root / "problems/txn_scheduling/resources/workloads.py")}
    workload = eplb_workload or root / "datasets/eplb/expert-load.json"
    if not workload.is_file():
        return f"skipped: no workload file {workload} (run problems/eplb/download_datasets.sh there, or --eplb-workload)"
    return {"model": "published", "workload": str(workload.resolve())}


def _score(problem, params, published: list[Published], root: Path, args, backend, limits) -> list[Row]:
    try:
        prob = with_params(load_problem(shipped_root() / problem), params)
        evaluator = load_evaluator(prob.evaluator_ref)
    except (EvolveError, ValueError, TypeError) as exc:
        return [Row(problem, p.name, None, None, "-", f"cannot load the evaluator: {exc}") for p in published]
    metric = MEASURE[problem][0]
    box = backend.open(limits)
    rows = []
    try:
        for program in published:
            code = wrapper(program, root)
            if args.write_programs:
                (args.write_programs / problem).mkdir(parents=True, exist_ok=True)
                (args.write_programs / problem / f"{program.name}.py").write_text(code, encoding="utf-8")
            if box.broken:
                box.close()
                box = backend.open(limits)
            started = time.perf_counter()
            outcome = run_job(evaluator, box, SandboxJob(code, prob.evaluator_ref, ("train",), ranges=prob.ranges), limits)
            frame = outcome.stages[0] if outcome.stages else None
            result = frame.result if frame is not None else None
            if result is None:
                why = (frame.error, frame.detail[-160:]) if frame else (outcome.failure, outcome.detail[-160:])
                rows.append(Row(problem, program.name, None, *_reference(problem, program, root, args), f"FAILED: {why[0]}: {why[1]}"))
                continue
            note = _note(problem, result.metrics, time.perf_counter() - started) + ("" if result.valid else f"; invalid: {result.reason}")
            rows.append(Row(problem, program.name, result.metrics.get(metric), *_reference(problem, program, root, args), note))
    finally:
        box.close()
    return rows


def _reference(problem: str, program: Published, root: Path, args) -> tuple[float | None, str]:
    if problem in TRACES:
        return (program.results or {}).get("avg_cost"), "results.json" if program.results else "-"
    if args.no_reference:
        return None, "-"
    if problem == "txn_scheduling":
        found = txn_reference(root, program.source, args.timeout)
        return found.get("score"), "original, seed 0" if "score" in found else f"original: {found.get('error')}"
    found = eplb_reference(root, program.source, Path(_params(problem, root, args.eplb_workload)["workload"]), args.timeout)
    return found.get("balancedness_score_gpu"), "original" if "balancedness_score_gpu" in found else f"original: {found.get('error')}"


def _note(problem: str, m: dict, seconds: float) -> str:
    if problem.startswith("spot"):
        return f"score {m['score']:.2f} (published form {m['published_score']:g}), {int(m['deadline_misses'])} deadlines missed, {seconds:.1f} s"
    if problem == "eplb":
        return f"score {m['score']:.2f} with {m['rebalance_ms']:.2f} ms per call (timing is this machine's)"
    return f"makespan {m['makespan']:g}, {m['improvement_vs_sequential']:.1%} below sequential, {seconds:.1f} s"


def _print(rows: list[Row]) -> None:
    print(f"{'problem':<15} {'program':<13} {'ours':>12} {'published':>12} {'diff':>10}  {'published from':<18} note")
    for r in rows:
        unit = MEASURE[r.problem][1]
        diff = "-" if r.ours is None or r.published is None else f"{r.ours - r.published:+.2e}"
        print(f"{r.problem:<15} {r.program:<13} {_num(r.ours):>12} {_num(r.published):>12} {diff:>10}  {r.source:<18} {r.note}  [{unit}]")
    for problem in dict.fromkeys(r.problem for r in rows):
        mine = [r for r in rows if r.problem == problem]
        both = [r for r in mine if r.ours is not None and r.published is not None]
        close = all(abs(r.ours - r.published) <= MEASURE[problem][2] for r in both)
        lower_better = problem.startswith("spot")
        order = lambda key: [r.program for r in sorted(both, key=lambda r: key(r) if lower_better else -key(r))]  # noqa: E731
        same = order(lambda r: r.ours) == order(lambda r: r.published)
        print(f"{problem}: {len(both)}/{len(mine)} compared, all within {MEASURE[problem][2]:g}: {'yes' if both and close else 'no'}; "
              f"best first: {' > '.join(order(lambda r: r.ours)) or '-'} ({'same order as' if same else 'NOT the order of'} the published values)")  # fmt: skip


def _num(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.6f}"


if __name__ == "__main__":
    sys.exit(main())
