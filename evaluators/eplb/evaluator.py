"""EplbEvaluator: the eplb problem's stages; a placement from window i is scored on window i+1.

The candidate module defines DeepSeek's interface

    rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus)
        -> (phy2log [layers, slots], log2phy [layers, experts, max replicas], logcnt [layers, experts])

with `weight` a float array [layers, experts] of token counts. Each call is one round trip to
the candidate's process, timed on this side (the candidate's compute plus moving the arrays,
about a tenth of a millisecond); validation and the balancedness simulation run here, untimed.
Calls go trace by trace, window by window, so a placement never sees a later window.

Objective (deterministic, so runs replay exactly): the stage's balancedness B (mean over the
calls of the mean over layers of mean GPU load / max GPU load, on the NEXT window), normalised
between the naive load-oblivious placement (score 0) and perfect balance (score 100):

    score = clip((B - B_naive) / (1 - B_naive), 0, 1) * 100

Reported beside it, not ranked on (timing varies from run to run and machine to machine): the
median seconds per call t and the ADRS leaderboard score
90 * B + 5 * min(0.002 / t, 2) - (min(20 t, 20) if t > 0.01 else 0).

`model="published"` scores as the leaderboard does instead (evaluators.eplb.published: its
balancedness, a ratio of sums, its rules, and its runtime term in the ranked score, with the
mean time per call measured here as the round trip), and `workload` (a path to the published
expert-load.json) replaces the synthetic traces: its windows are every stage's (smoke: the
first two).
"""

from __future__ import annotations

import numpy as np

from evaluators.answers import Invalid
from evaluators.candidate import Candidate
from evaluators.eplb.balance import layer_balancedness, naive_placement
from evaluators.eplb import published
from evaluators.eplb.layout import Layout
from evaluators.eplb.validation import InvalidPlacement, check_placement
from evaluators.eplb.workloads import make_trace
from evaluators.protocol import StageResult

MODELS = ("strict", "published")


def leaderboard_score(balancedness: float, seconds: float) -> float:
    score = 90.0 * balancedness + 5.0 * min(0.002 / max(seconds, 1e-9), 2.0)
    if seconds > 0.01:
        score -= min(20.0 * seconds, 20.0)
    return score


class EplbEvaluator:
    """seed: base seed; *_traces: traces per stage; windows: windows per trace (windows - 1 calls
    each); layers: MoE layers (58 as in DeepSeek-V3); model: "strict" or "published";
    workload: the published expert-load.json (a path)."""

    def __init__(self, *, seed: int = 20250214, smoke_traces: int = 1, train_traces: int = 8, test_traces: int = 8,
                 windows: int = 4, smoke_windows: int = 2, layers: int = 58, model: str = "strict",
                 workload: str | None = None) -> None:  # fmt: skip
        if windows < 2 or smoke_windows < 2:
            raise ValueError("a trace needs at least two windows (place on one, score on the next)")
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, not {model!r}")
        self.stages: tuple[str, ...] = ("smoke", "train", "test")
        self.seed = int(seed)
        self.model = model
        self._published = published.load_windows(workload) if workload else None  # a wrong path or format fails here
        if self._published is not None:
            layers = self._published.shape[1]
        self.layout = Layout(num_layers=int(layers))
        self._plan = {"smoke": (int(smoke_traces), int(smoke_windows)), "train": (int(train_traces), int(windows)),
                      "test": (int(test_traces), int(windows))}
        self._cache: dict[str, tuple[list[np.ndarray], float]] = {}

    def traces(self, stage: str) -> tuple[list[np.ndarray], float]:
        """The stage's traces and the naive placement's balancedness on them (cached)."""
        if stage not in self.stages:
            raise ValueError(f"unknown stage {stage!r}; stages are {self.stages}")
        if stage not in self._cache:
            count, windows = self._plan[stage]
            if self._published is not None:
                traces = [self._published[:2] if stage == "smoke" else self._published]
            else:
                traces = [make_trace(self.seed, stage, i, self.layout, windows) for i in range(count)]
            phy2log, _, logcnt = naive_placement(self.layout, self.layout.num_layers)
            naive = np.mean([layer_balancedness(t[w + 1], phy2log, logcnt, self.layout).mean()
                             for t in traces for w in range(len(t) - 1)])
            self._cache[stage] = (traces, float(naive))
        return self._cache[stage]

    def run_stage(self, stage: str, candidate: Candidate) -> StageResult:
        traces, naive = self.traces(stage)
        if not candidate.defines("rebalance_experts"):
            return _invalid("candidate defines no function rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus)")
        lay = self.layout
        calls = []  # (label, per-layer balancedness, seconds, max replicas per layer)
        for index, trace in enumerate(traces):
            for w in range(len(trace) - 1):
                label = f"{stage} trace {index} window {w}->{w + 1}"
                before = candidate.seconds
                result = candidate.call("rebalance_experts", trace[w], lay.num_slots, lay.num_groups, lay.num_nodes, lay.num_gpus)
                seconds = candidate.seconds - before
                if isinstance(result, Invalid):
                    return _invalid(f"{label}: rebalance_experts {result.reason}")
                try:
                    if self.model == "published":
                        log2phy, logcnt = published.check_published(result, trace[w + 1], lay)
                        calls.append((label, published.balancedness(trace[w + 1], log2phy, logcnt, lay), seconds, logcnt.max(axis=1)))
                        continue
                    phy2log, logcnt = check_placement(result, trace[w], lay)
                except InvalidPlacement as exc:
                    return _invalid(f"{label}: {exc}")
                per_layer = layer_balancedness(trace[w + 1], phy2log, logcnt, lay)
                calls.append((label, per_layer, seconds, logcnt.max(axis=1)))
        return _published_report(stage, calls) if self.model == "published" else _report(stage, calls, naive)


def _invalid(reason: str) -> StageResult:
    return StageResult(metrics={"score": 0.0}, valid=False, reason=reason,
                       feedback=f"{reason}. Return (phy2log, log2phy, logcnt) as integer arrays, consistent with each other.")


def _published_report(stage: str, calls: list) -> StageResult:
    balanced = float(np.mean([c[1] for c in calls]))
    seconds = float(np.mean([c[2] for c in calls]))
    score = leaderboard_score(balanced, seconds)
    metrics = {"score": score, "balancedness": balanced, "rebalance_ms": seconds * 1000.0, "calls": float(len(calls)),
               "max_replicas": float(np.mean([c[3].mean() for c in calls]))}  # fmt: skip
    feedback = (f"{stage} (published scoring): balancedness {balanced:.4f} (sum of mean GPU loads / sum of max GPU loads "
                f"on the next window, averaged over {len(calls)} calls), {seconds * 1000:.2f} ms per call (mean) "
                f"-> 90 x {balanced:.4f} + speed term = {score:.2f}")  # fmt: skip
    return StageResult(metrics=metrics, feedback=feedback)


def _report(stage: str, calls: list, naive: float) -> StageResult:
    balanced = float(np.mean([c[1].mean() for c in calls]))
    seconds = sorted(c[2] for c in calls)
    median = seconds[len(seconds) // 2]
    score = min(max((balanced - naive) / (1.0 - naive), 0.0), 1.0) * 100.0 if naive < 1 else 0.0
    metrics = {
        "score": score,
        "balancedness": balanced,
        "naive_balancedness": naive,
        "worst_layer_balancedness": float(min(c[1].min() for c in calls)),
        "rebalance_ms": median * 1000.0,
        "rebalance_ms_max": seconds[-1] * 1000.0,
        "leaderboard_score": leaderboard_score(balanced, median),
        "max_replicas": float(np.mean([c[3].mean() for c in calls])),
        "calls": float(len(calls)),
    }
    lines = [
        f"{stage}: balancedness {balanced:.4f} on the next window (naive placement {naive:.4f}, perfect 1) "
        f"-> score {score:.1f}/100; rebalance took {median * 1000:.1f} ms (median of {len(calls)} calls, "
        f"max {seconds[-1] * 1000:.1f} ms); leaderboard form {metrics['leaderboard_score']:.1f}",
        "worst layers (mean GPU load / max GPU load on the next window):",
    ]
    worst = sorted(((c[1][layer], c[0], layer) for c in calls for layer in range(len(c[1]))))[:5]
    for value, label, layer in worst:
        lines.append(f"- {label}, layer {layer}: {value:.3f}")
    return StageResult(metrics=metrics, feedback="\n".join(lines))
