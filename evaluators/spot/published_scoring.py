"""Metrics of a stage under the published model, scored as the ADRS leaderboard scores it.

Single region (its run_evaluator_real30): avg cost = mean over all scenarios; anchors
OD = job hours x $3.06 and SPOT = job hours x 3.06 / (3.06 / 0.9731), without the start
overhead; score = clip((OD - avg) / (OD - SPOT), 0, 1) x 100, published rounded to a whole
number. Any failed simulation fails the evaluation (score 0).
Multi region (its cant_be_late_multi evaluator): per region-set group, the mean cost of its
windows in order up to the first failed one; avg cost = mean over the groups that have one;
anchors 48 x $3.06 and 48 x $0.9731; published score rounded to two decimals.
The deadline is not checked (the original never does); missed deadlines are counted and shown.
`score` is the unrounded score (what ranks candidates); `published_score` is the leaderboard's.
"""

from __future__ import annotations

import math
from typing import Sequence

from evaluators.spot.published_model import ON_DEMAND_PRICE, SPOT_PRICE, Outcome
from evaluators.spot.scoring import Scenario, StageReport


def summarise_published(stage: str, scenarios: Sequence[Scenario], outcomes: Sequence[Outcome],
                        groups: tuple[tuple[str, tuple[int, ...]], ...] = ()) -> StageReport:  # fmt: skip
    n = len(outcomes)
    failed = [i for i, o in enumerate(outcomes) if not o.finished]
    job = sum(s.spec.job_hours for s in scenarios) / n
    if groups:
        avg, counted = _group_average(outcomes, groups)
        od, spot, digits = job * ON_DEMAND_PRICE, job * 0.9731, 2
        reason = None if counted else "every region-set group failed on its first window"
    else:
        counted = [i for i in range(n) if i not in set(failed)]
        avg = sum(outcomes[i].cost for i in counted) / len(counted) if counted else math.inf
        od, spot, digits = job * ON_DEMAND_PRICE, job * SPOT_PRICE, 0
        reason = f"{len(failed)}/{n} simulations failed (first: {scenarios[failed[0]].label}: {outcomes[failed[0]].failure})" if failed else None
    score = min(max((od - avg) / (od - spot), 0.0), 1.0) * 100.0 if reason is None else 0.0
    missed = [i for i, o in enumerate(outcomes) if o.finished and o.missed_deadline]
    od_hours = sum(o.on_demand_hours for o in outcomes if o.finished)
    billed = od_hours + sum(o.spot_hours for o in outcomes if o.finished)
    score, avg = float(score), float(avg)
    metrics = {
        "score": score,
        "published_score": round(score, digits) if digits else float(round(score)),
        "avg_cost": avg if math.isfinite(avg) else 0.0,
        "od_cost": od,
        "spot_cost": spot,
        "deadline_misses": float(len(missed)),
        "failed_simulations": float(len(failed)),
        "scenarios": float(n),
        "on_demand_share": float(od_hours / billed) if billed > 0 else 0.0,
    }
    if any(s.spec.num_regions > 1 for s in scenarios):
        metrics["region_switches"] = sum(o.region_switches for o in outcomes) / n
    return StageReport(metrics, reason is None, reason, _feedback(stage, scenarios, outcomes, metrics, missed))


def _group_average(outcomes: Sequence[Outcome], groups) -> tuple[float, list[str]]:
    means, counted = [], []
    for name, members in groups:
        costs = []
        for i in members:
            if not outcomes[i].finished:
                break
            costs.append(outcomes[i].cost)
        if costs:
            means.append(sum(costs) / len(costs))
            counted.append(name)
    return (sum(means) / len(means) if means else math.inf), counted


def _feedback(stage: str, scenarios, outcomes, metrics: dict, missed: list[int]) -> str:
    lines = [
        f"{stage} (published model): avg cost ${metrics['avg_cost']:.2f} vs all-on-demand ${metrics['od_cost']:.2f} and "
        f"all-spot ${metrics['spot_cost']:.2f} -> score {metrics['score']:.2f}/100 (leaderboard {metrics['published_score']:g}); "
        f"{len(missed)} deadlines missed (not penalised by the published model), {int(metrics['failed_simulations'])} failed simulations",
        "costliest scenarios:",
    ]
    done = [i for i, o in enumerate(outcomes) if o.finished]
    for i in sorted(done, key=lambda i: -outcomes[i].cost)[:5]:
        o = outcomes[i]
        late = ", MISSED deadline" if o.missed_deadline else ""
        lines.append(f"- {scenarios[i].label}: ${o.cost:.2f}, done at {o.completion_hours:.1f} h{late}")
    for i in [i for i, o in enumerate(outcomes) if not o.finished][:3]:
        lines.append(f"- {scenarios[i].label}: FAILED: {outcomes[i].failure}")
    return "\n".join(lines)
