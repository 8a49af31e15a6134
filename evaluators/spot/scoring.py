"""Turn a stage's scenario outcomes into metrics, validity and feedback.

Score (leaderboard form, ratio of averages, not an average of per-scenario ratios):

    OD   = mean over scenarios of (job + d) * on-demand price   (run fully on-demand, one start)
    SPOT = mean over scenarios of (job + d) * spot price        (run fully on spot, one start)
    score = clip((OD - avg_cost) / (OD - SPOT), 0, 1) * 100

The leaderboard anchors use job * price without the start overhead; we add the one unavoidable
start so that the all-on-demand policy scores exactly 0 in this simulator (the difference is
d * $2.09, at most $0.84 per scenario on our grid). The score is not rounded.

A scenario whose deadline is missed counts, for `avg_cost` and the score, at what it was billed
plus finishing the remaining work on on-demand after one restart; so never running scores 0,
not 100. Such a stage is invalid anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from evaluators.spot.simulator import JobSpec, Outcome


@dataclass(frozen=True)
class Scenario:
    """One simulation: a job spec run against one availability window."""

    trace_type: str
    window_label: str
    spec: JobSpec
    available: tuple  # one region: availability per tick; several: one such tuple per region
    mean_availability: float
    prices: tuple | None = None  # per region: spot price per tick (real multi-region traces), or None

    @property
    def label(self) -> str:
        return (
            f"{self.window_label} (spot {self.mean_availability:.0%} of window), "
            f"deadline {self.spec.deadline_hours:g}h, overhead {self.spec.restart_overhead_hours:g}h"
        )


def reference_costs(spec: JobSpec) -> tuple[float, float]:
    """(all on-demand, all spot) cost of the job, each with one start overhead."""
    hours = spec.job_hours + spec.restart_overhead_hours
    return hours * spec.on_demand_price, hours * spec.spot_price


def effective_cost(spec: JobSpec, outcome: Outcome) -> float:
    """Billed cost, plus finishing on on-demand after one restart when the deadline was missed."""
    if outcome.finished:
        return outcome.cost
    return outcome.cost + (outcome.work_left_hours + spec.restart_overhead_hours) * spec.on_demand_price


def normalised_score(avg_cost: float, od_cost: float, spot_cost: float) -> float:
    span = od_cost - spot_cost
    if span <= 0:
        return 0.0
    return min(max((od_cost - avg_cost) / span, 0.0), 1.0) * 100.0


@dataclass(frozen=True)
class StageReport:
    metrics: dict[str, float]
    valid: bool
    reason: str | None
    feedback: str


def summarise(
    stage: str, scenarios: Sequence[Scenario], outcomes: Sequence[Outcome], group_label: str = "trace type"
) -> StageReport:
    n = len(outcomes)
    costs = [effective_cost(s.spec, o) for s, o in zip(scenarios, outcomes)]
    refs = [reference_costs(s.spec) for s in scenarios]
    avg_cost = sum(costs) / n
    od_cost = sum(r[0] for r in refs) / n
    spot_cost = sum(r[1] for r in refs) / n
    od_hours = sum(o.on_demand_hours for o in outcomes)
    billed = od_hours + sum(o.spot_hours for o in outcomes)
    missed = [i for i, o in enumerate(outcomes) if not o.finished]
    bad = [i for i, o in enumerate(outcomes) if o.invalid_decisions]
    invalid_decisions = sum(o.invalid_decisions for o in outcomes)
    score = normalised_score(avg_cost, od_cost, spot_cost)
    metrics = {
        "score": score,
        "avg_cost": avg_cost,
        "od_cost": od_cost,
        "spot_cost": spot_cost,
        "deadline_misses": float(len(missed)),
        "invalid_decisions": float(invalid_decisions),
        "scenarios": float(n),
        "on_demand_share": od_hours / billed if billed > 0 else 0.0,
        "worst_cost_ratio": max(c / r[0] for c, r in zip(costs, refs)),
    }
    reasons = []
    if missed:
        worst = max(missed, key=lambda i: outcomes[i].work_left_hours)
        reasons.append(
            f"deadline missed in {len(missed)}/{n} scenarios (worst: {scenarios[worst].label}, "
            f"{outcomes[worst].work_left_hours:.2f}h of work left)"
        )
    if bad:
        first = bad[0]
        reasons.append(
            f"{invalid_decisions} invalid decisions in {len(bad)}/{n} scenarios "
            f"(first: {scenarios[first].label}, {outcomes[first].first_invalid})"
        )
    reason = "; ".join(reasons) or None
    feedback = _feedback(stage, scenarios, outcomes, costs, refs, metrics, group_label)
    return StageReport(metrics=metrics, valid=reason is None, reason=reason, feedback=feedback)


def _feedback(stage, scenarios, outcomes, costs, refs, metrics, group_label) -> str:
    lines = [
        f"{stage}: avg cost ${metrics['avg_cost']:.2f} vs all-on-demand ${metrics['od_cost']:.2f} "
        f"and all-spot ${metrics['spot_cost']:.2f} -> score {metrics['score']:.1f}/100; "
        f"{int(metrics['deadline_misses'])} missed deadlines, on-demand share "
        f"{metrics['on_demand_share']:.0%}"
    ]
    by_type: dict[str, list[float]] = {}
    for scenario, cost, ref in zip(scenarios, costs, refs):
        by_type.setdefault(scenario.trace_type, []).append(cost / ref[0])
    lines.append(
        f"cost as % of on-demand by {group_label}: "
        + ", ".join(f"{name} {sum(v) / len(v):.0%}" for name, v in by_type.items())
    )
    order = sorted(
        range(len(outcomes)),
        key=lambda i: (outcomes[i].finished, -costs[i] / refs[i][0]),
    )
    lines.append("worst scenarios:")
    for i in order[:5]:
        outcome = outcomes[i]
        status = "met deadline" if outcome.finished else f"MISSED deadline ({outcome.work_left_hours:.2f}h work left)"
        if outcome.invalid_decisions:
            status += f", {outcome.invalid_decisions} invalid decisions ({outcome.first_invalid})"
        lines.append(
            f"- {scenarios[i].label}: ${costs[i]:.2f} = {costs[i] / refs[i][0]:.0%} of on-demand "
            f"(${refs[i][0]:.2f}); on-demand {outcome.on_demand_hours:.1f}h, spot {outcome.spot_hours:.1f}h; {status}"
        )
    return "\n".join(lines)
