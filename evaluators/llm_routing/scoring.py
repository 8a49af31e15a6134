"""Metrics, score and feedback of one llm_routing stage.

Per scenario, from the requests' TTFT (time to first token) in seconds:

    tail = mean of the slowest 1% of TTFTs (at least one request)     (CVaR 99%, not the p99:
           a router cannot hide sacrificed requests behind the percentile)
    mean = mean TTFT
    s(x) = clip(ln(x_rr / x) / ln(x_rr / x_floor), -1, 1)

where x_rr is the same statistic for the reference round-robin router (evaluators.llm_routing.
reference, over the instances that can hold the request) and x_floor for every request's TTFT on
an idle instance (iter_base + iter_per_seq + prefill_per_token * prompt: no router can do better).
The scenario's score is (s(tail) + s(mean)) / 2; the stage's score is 100 x the mean over
scenarios. So round-robin scores 0 and the unreachable no-queueing floor 100; worse than
round-robin is negative (down to -100).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from evaluators.llm_routing.simulator import SimResult
from evaluators.llm_routing.workload import Workload

TAIL_FRACTION = 0.01
SLO_MIN_SECONDS = 1.0  # TTFT SLO: max(1 s, 5 x the request's idle-instance TTFT)
SLO_FACTOR = 5.0


@dataclass(frozen=True)
class Anchors:
    """Per-scenario reference statistics: round-robin and the no-queueing floor."""

    rr_tail: float
    rr_mean: float
    floor_tail: float
    floor_mean: float


def tail_mean(values: np.ndarray, fraction: float = TAIL_FRACTION) -> float:
    """Mean of the largest `fraction` of values (at least one)."""
    k = max(1, int(math.ceil(len(values) * fraction)))
    return float(np.mean(np.partition(values, len(values) - k)[-k:]))


def anchors(rr: SimResult, floor: np.ndarray) -> Anchors:
    return Anchors(tail_mean(rr.ttft), float(rr.ttft.mean()), tail_mean(floor), float(floor.mean()))


def normalised(x: float, ref: float, floor: float) -> float:
    if ref <= floor * (1 + 1e-9):
        return 1.0 if x <= ref else -1.0
    return float(np.clip(math.log(ref / max(x, 1e-12)) / math.log(ref / floor), -1.0, 1.0))


@dataclass(frozen=True)
class StageReport:
    metrics: dict[str, float]
    feedback: str


def summarise(stage: str, workloads: Sequence[Workload], results: Sequence[SimResult], refs: Sequence[Anchors], floors: Sequence[np.ndarray]) -> StageReport:
    rows = []
    for wl, res, ref, floor in zip(workloads, results, refs, floors):
        tail, mean = tail_mean(res.ttft), float(res.ttft.mean())
        s = 0.5 * (normalised(tail, ref.rr_tail, ref.floor_tail) + normalised(mean, ref.rr_mean, ref.floor_mean))
        slo = float(np.mean(res.ttft <= np.maximum(SLO_MIN_SECONDS, SLO_FACTOR * floor)))
        rows.append((wl, res, ref, tail, mean, s, slo))
    ttft = np.concatenate([r[1].ttft for r in rows])
    e2e = np.concatenate([r[1].e2e for r in rows])
    metrics = {
        "score": 100.0 * float(np.mean([r[5] for r in rows])),
        "ttft_p50": float(np.percentile(ttft, 50)),
        "ttft_p99": float(np.percentile(ttft, 99)),
        "ttft_tail": float(np.mean([r[3] for r in rows])),
        "ttft_mean": float(ttft.mean()),
        "rr_ttft_tail": float(np.mean([r[2].rr_tail for r in rows])),
        "e2e_mean": float(e2e.mean()),
        "e2e_p99": float(np.percentile(e2e, 99)),
        "slo_attainment": float(np.mean([r[6] for r in rows])),
        "scenarios": float(len(rows)),
        "requests": float(len(ttft)),
    }
    return StageReport(metrics, _feedback(stage, rows, metrics))


def _feedback(stage: str, rows, metrics: dict[str, float]) -> str:
    lines = [
        f"{stage}: score {metrics['score']:.1f}/100 (0 = round-robin, 100 = no queueing); "
        f"TTFT p50 {metrics['ttft_p50']:.2f}s p99 {metrics['ttft_p99']:.2f}s, slowest-1% mean "
        f"{metrics['ttft_tail']:.2f}s vs round-robin {metrics['rr_ttft_tail']:.2f}s; "
        f"SLO attainment {metrics['slo_attainment']:.1%}",
        "worst scenarios:",
    ]
    for wl, res, ref, tail, mean, s, slo in sorted(rows, key=lambda r: r[5])[:5]:
        share = ", ".join(str(k) for k in res.routed)
        lines.append(
            f"- {wl.label} ({wl.cluster.n_instances} instances, KV {_caps(wl.cluster.kv_capacity)}): "
            f"scenario score {100 * s:.1f}; slowest-1% TTFT {tail:.2f}s (round-robin {ref.rr_tail:.2f}s, "
            f"floor {ref.floor_tail:.2f}s), mean TTFT {mean:.2f}s (round-robin {ref.rr_mean:.2f}s); "
            f"requests per instance [{share}], longest queues {list(res.max_queue)}"
        )
    return "\n".join(lines)


def _caps(caps: tuple[int, ...]) -> str:
    out, prev, count = [], None, 0
    for c in caps + (None,):
        if c == prev:
            count += 1
            continue
        if prev is not None:
            out.append(f"{count}x{prev // 1024}k")
        prev, count = c, 1
    return "+".join(out)
