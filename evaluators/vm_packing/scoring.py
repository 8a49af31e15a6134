"""Metrics, score and feedback of one vm_packing stage.

Per scenario, over the measured window (machine-hours):

    used    = integral of the number of machines hosting at least one VM
    failed  = sum over VMs that found no machine with room of
              max(vCPU / 64, GiB / 256) x their lifetime in the window   (their least footprint)
    bound   = integral of ceil(max(offered vCPU / 64, offered GiB / 256)), every VM counted
    naive   = pool size x window (every machine busy all the time, as spreading VMs does)
    cost    = (used + FAIL_WEIGHT x failed) / bound - 1
    s       = clip((naive / bound - 1 - cost) / (naive / bound - 1), -1, 1)

score = 100 x the mean of s over scenarios: 0 at the naive reference, 100 at the fluid bound
(no excess machine, no failure; unreachable in general), negative when worse than keeping the
whole pool busy (failures push it there fast: each failed VM costs FAIL_WEIGHT times its size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from evaluators.vm_packing.simulator import SimResult
from evaluators.vm_packing.workload import Workload

FAIL_WEIGHT = 10.0


@dataclass(frozen=True)
class Anchors:
    bound: float  # machine-hours
    naive: float


@dataclass(frozen=True)
class StageReport:
    metrics: dict[str, float]
    feedback: str


def scenario_score(res: SimResult, ref: Anchors) -> tuple[float, float]:
    """(normalised score in [-1, 1], cost) of one scenario."""
    cost = (res.used_hours + FAIL_WEIGHT * res.failed_footprint) / ref.bound - 1.0
    naive = ref.naive / ref.bound - 1.0
    return float(np.clip((naive - cost) / naive, -1.0, 1.0)), cost


def summarise(stage: str, workloads: Sequence[Workload], results: Sequence[SimResult], refs: Sequence[Anchors]) -> StageReport:
    rows = []
    for wl, res, ref in zip(workloads, results, refs):
        s, cost = scenario_score(res, ref)
        pool = wl.pool
        cap_cpu, cap_mem = pool.machines * pool.cpu * wl.horizon, pool.machines * pool.mem * wl.horizon
        rows.append((wl, res, ref, s, cost, res.stranded_cpu_hours / cap_cpu, res.stranded_mem_hours / cap_mem))
    n = len(rows)
    metrics = {
        "score": 100.0 * float(np.mean([r[3] for r in rows])),
        "excess_machines": float(np.mean([r[1].used_hours / r[2].bound - 1.0 for r in rows])),
        "machines_used": float(np.mean([r[1].used_hours / r[0].horizon for r in rows])),
        "machines_bound": float(np.mean([r[2].bound / r[0].horizon for r in rows])),
        "failed": float(sum(r[1].failed for r in rows)),
        "failure_rate": float(sum(r[1].failed for r in rows) / max(1, sum(r[1].arrivals for r in rows))),
        "stranded_cpu": float(np.mean([r[5] for r in rows])),
        "stranded_mem": float(np.mean([r[6] for r in rows])),
        "stranded": float(np.mean([(r[5] + r[6]) / 2 for r in rows])),
        "scenarios": float(n),
        "vms": float(sum(r[1].arrivals for r in rows)),
    }
    return StageReport(metrics, _feedback(stage, rows, metrics))


def _feedback(stage: str, rows, m: dict[str, float]) -> str:
    lines = [
        f"{stage}: score {m['score']:.1f}/100 (0 = whole pool busy, 100 = fluid bound); machines used "
        f"{m['machines_used']:.1f} on average vs bound {m['machines_bound']:.1f} ({m['excess_machines']:+.1%}); "
        f"{int(m['failed'])} failed placements ({m['failure_rate']:.2%}); stranded {m['stranded_cpu']:.2%} of CPU, "
        f"{m['stranded_mem']:.2%} of memory",
        "worst scenarios:",
    ]
    for wl, res, ref, s, cost, sc, sm in sorted(rows, key=lambda r: r[3])[:5]:
        lines.append(
            f"- {wl.label}: scenario score {100 * s:.1f}; machines used {res.used_hours / wl.horizon:.1f} "
            f"(peak {res.peak_used}) vs bound {ref.bound / wl.horizon:.1f} of {wl.pool.machines}; "
            f"{res.failed} failed placements of {res.arrivals}; stranded {sc:.2%} CPU, {sm:.2%} memory"
        )
    return "\n".join(lines)
