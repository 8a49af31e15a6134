"""TxnEvaluator: the txn_scheduling problem's stages (smoke, train, test).

The candidate module defines `schedule(workload) -> list[int]`, a permutation of the workload's
transactions (see evaluators.txn.view for what `workload` offers: the view is built in the
candidate's process from plain data), or `schedule_all(workloads) -> list of orders` for a
whole stage at once (the form a published ADRS program takes behind evaluators.shims.txn_simulator).
The workloads of a stage are independent, so they go in one batch: one round trip per stage.
Each returned order is checked strictly (evaluators.txn.validation) and scored here with the
evaluator's own copy of the transactions (evaluators.txn.cost, `cost_model` "per_step", ADRS's
and the default, or "strict_2pl").

`workloads`: a path to the published workloads (evaluators.txn.workloads.load_published); they
are then every stage's workloads (smoke: the first), scored exactly as the leaderboard does.

Score (leaderboard form), over the workloads of a stage, with sums of makespans:

    SEQ   = sum of makespans of the sequential order 0, 1, ..., n-1 under the cost model
    MIN   = sum of the longest transaction of each workload (the theoretical minimum)
    BOUND = MIN + 0.1 * (SEQ - MIN)
    score = clip((SEQ - total makespan) / (SEQ - BOUND), 0, 1) * 100

Any invalid order, in any workload, makes the candidate invalid with score 0.
"""

from __future__ import annotations

import numpy as np

from evaluators.answers import Invalid
from evaluators.candidate import Candidate
from evaluators.protocol import StageResult
from evaluators.txn.cost import MODELS, Compiled, makespan
from evaluators.txn.validation import InvalidSchedule, check_order
from evaluators.txn.workloads import TxnWorkload, load_published, make_workloads
from sandboxes.wire import Records

VIEW = "evaluators.txn.view:Workload"

BOUND_FRACTION = 0.1


def normalised_score(total: float, sequential: float, minimum: float) -> float:
    bound = minimum + BOUND_FRACTION * (sequential - minimum)
    span = sequential - bound
    if span <= 0:
        return 0.0
    return min(max((sequential - total) / span, 0.0), 1.0) * 100.0


class TxnEvaluator:
    """Transaction ordering. seed: base seed; *_workloads: workloads per stage (100 txns each);
    cost_model: "per_step" or "strict_2pl"; workloads: the published workloads (a path)."""

    def __init__(self, *, seed: int = 20250301, smoke_workloads: int = 3, train_workloads: int = 21,
                 test_workloads: int = 21, cost_model: str = "per_step", workloads: str | None = None) -> None:
        if cost_model not in MODELS:
            raise ValueError(f"cost_model must be one of {MODELS}, not {cost_model!r}")
        self.stages: tuple[str, ...] = ("smoke", "train", "test")
        self.seed = int(seed)
        self.cost_model = cost_model
        self._counts = {"smoke": int(smoke_workloads), "train": int(train_workloads), "test": int(test_workloads)}
        self._published = load_published(workloads) if workloads else None  # a wrong path or format fails here
        self._cache: dict[str, list[tuple[TxnWorkload, Compiled, int]]] = {}

    def workloads(self, stage: str) -> list[tuple[TxnWorkload, Compiled, int]]:
        """(workload, compiled cost model, sequential makespan) per workload, cached per stage."""
        if stage not in self.stages:
            raise ValueError(f"unknown stage {stage!r}; stages are {self.stages}")
        if stage not in self._cache:
            built = []
            for w in self._stage_workloads(stage):
                compiled = Compiled(w.txns, w.num_keys, self.cost_model)
                built.append((w, compiled, makespan(compiled, range(len(w.txns)))))
            self._cache[stage] = built
        return self._cache[stage]

    def _stage_workloads(self, stage: str) -> list[TxnWorkload]:
        if self._published is not None:
            return self._published[:1] if stage == "smoke" else list(self._published)
        return make_workloads(self.seed, stage, self._counts[stage])

    def run_stage(self, stage: str, candidate: Candidate) -> StageResult:
        workloads = self.workloads(stage)
        whole = not candidate.defines("schedule") and candidate.defines("schedule_all")
        if not candidate.defines("schedule") and not whole:
            return _invalid(len(workloads), "candidate defines no function schedule(workload)")
        views = Records("Workload", {
            "txns": [w.txns for w, _, _ in workloads], "num_keys": [w.num_keys for w, _, _ in workloads],
            "seed": [w.seed for w, _, _ in workloads], "cost_model": [self.cost_model] * len(workloads),
            "source": [w.source for w, _, _ in workloads],
        }, view=VIEW)  # fmt: skip
        before = candidate.seconds
        if whole:
            orders = candidate.map("schedule_all", columns=[[views]])[0]  # one call: the list of every view
            if orders.__class__ is not list or len(orders) != len(workloads):
                return _invalid(len(workloads), f"schedule_all returned {_count(orders)} orders for {len(workloads)} workloads")
        else:
            orders = candidate.map("schedule", columns=[views])
        algo_s = candidate.seconds - before
        rows, corr = [], []
        for (w, compiled, sequential), order in zip(workloads, orders):
            if isinstance(order, Invalid):
                return _invalid(len(workloads), f"workload {w.label}: schedule {order.reason}")
            try:
                indices = check_order(order, len(w.txns))
            except InvalidSchedule as exc:
                return _invalid(len(workloads), f"workload {w.label}: {exc}")
            rows.append((w.label, makespan(compiled, indices), sequential, max(compiled.lengths)))
            corr.append(_length_order_corr(compiled.lengths, indices))
        report = _report(stage, rows, algo_s)
        report.metrics["length_order_corr"] = float(np.mean(corr))
        return report


def _count(orders: object) -> str:
    return str(len(orders)) if orders.__class__ is list else type(orders).__name__


def _length_order_corr(lengths: tuple[int, ...], order: list[int]) -> float:
    """Correlation of schedule position with transaction length (behaviour axis; > 0: short first)."""
    by_position = np.asarray(lengths, dtype=float)[order]
    if by_position.std() == 0:
        return 0.0
    return float(np.corrcoef(np.arange(len(order)), by_position)[0, 1])


def _invalid(n: int, reason: str) -> StageResult:
    feedback = f"{reason}. Return a permutation of range(workload.num_txns) as a list of ints."
    return StageResult(metrics={"score": 0.0, "workloads": float(n)}, valid=False, reason=reason, feedback=feedback)


def _report(stage: str, rows: list[tuple[str, int, int, int]], algo_s: float) -> StageResult:
    total = sum(r[1] for r in rows)
    sequential = sum(r[2] for r in rows)
    minimum = sum(r[3] for r in rows)
    score = normalised_score(total, sequential, minimum)
    metrics = {
        "score": score,
        "makespan": float(total),
        "sequential_makespan": float(sequential),
        "min_makespan": float(minimum),
        "improvement_vs_sequential": 1.0 - total / sequential,
        "workloads": float(len(rows)),
        "algorithm_seconds": algo_s,
    }  # length_order_corr is added by the caller
    lines = [
        f"{stage}: total makespan {total} vs sequential order {sequential} and lower bound {minimum} "
        f"-> score {score:.1f}/100 ({metrics['improvement_vs_sequential']:.1%} below sequential); "
        f"schedule() took {algo_s:.2f}s in all",
        "worst workloads (makespan / sequential):",
    ]
    for label, m, seq, low in sorted(rows, key=lambda r: -r[1] / r[2])[:5]:
        lines.append(f"- {label}: makespan {m} = {m / seq:.0%} of sequential {seq} (longest transaction {low})")
    return StageResult(metrics=metrics, feedback="\n".join(lines))
