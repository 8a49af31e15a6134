"""ADRS's transaction simulator interface (`txn_simulator.Workload`), rebuilt in the candidate's process.

A published program imports `from txn_simulator import Workload` and `from workloads import
WORKLOAD_1, ...`, and its `get_random_costs()` returns (total makespan, schedules, seconds).
`published_scheduler(source)` turns such a program into `schedule_all(workloads)`: for each
group of three workloads (the number a published program schedules), it runs the program afresh
(as the leaderboard runs it, in a new process) with WORKLOAD_1..3 set to them, Python's and
NumPy's global random generators seeded with 0 (published programs are unseeded: any seed is one
draw of theirs, this one repeatable), and returns the schedules. The makespan the program
reports is ignored; the evaluator scores the schedules itself. `Workload.get_opt_seq_cost` is
the per-step lock model of evaluators.txn.cost, checked equal to ADRS's.
"""

from __future__ import annotations

import json
import random
import sys
import types

from evaluators.txn.adrs_format import parse
from evaluators.txn.cost import IDLE, Compiled, makespan

PER_RUN = 3


class Workload:
    """ADRS's Workload: txns[j] is a list of (op, key, position from 1, length) per operation."""

    def __init__(self, workload_json, debug=False, verify=False):
        self.workload = list(json.loads(workload_json).values())
        self.num_txns = len(self.workload)
        self.debug, self.verify = debug, verify
        txns, keys = parse(workload_json)
        self._compiled = Compiled(txns, len(keys), "per_step")
        self.txns = [[("w" if w else "r", keys[k], pos + 1, len(t)) for pos, (w, k) in enumerate(t) if k != IDLE] for t in txns]

    def get_opt_seq_cost(self, txn_seq) -> int:
        txn_seq[0]  # the original reads the first entry: an empty sequence raises there
        return makespan(self._compiled, txn_seq)


def published_scheduler(source: str):
    """`schedule_all(workloads)` for a published program's source (see the module doc)."""

    def schedule_all(workloads) -> list:
        schedules = []
        for at in range(0, len(workloads), PER_RUN):
            group = workloads[at : at + PER_RUN]
            names = {f"WORKLOAD_{i + 1}": w.source for i, w in enumerate(group)}
            for i in range(len(group), PER_RUN):  # a short last group repeats its first workload
                names[f"WORKLOAD_{i + 1}"] = group[0].source
            _, found, _ = _run(source, names)
            schedules.extend(list(s) for s in found[: len(group)])
        return schedules

    return schedule_all


def _run(source: str, names: dict) -> tuple:
    sys.modules["txn_simulator"] = _module("txn_simulator", Workload=Workload)
    sys.modules["workloads"] = _module("workloads", **names)
    random.seed(0)
    try:
        import numpy

        numpy.random.seed(0)
    except ImportError:  # pragma: no cover - numpy is in every sandbox
        pass
    program = _module("published_program")
    exec(compile(source, "<published program>", "exec"), program.__dict__)
    return program.get_random_costs()


def _module(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    return module
