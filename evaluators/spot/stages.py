"""Run one spot stage under either model and turn the outcomes into a StageResult."""

from __future__ import annotations

from evaluators.candidate import Candidate
from evaluators.protocol import StageResult
from evaluators.spot import published_model
from evaluators.spot.grids import Grid
from evaluators.spot.play import play, play_published
from evaluators.spot.published_scoring import summarise_published
from evaluators.spot.scoring import Scenario, summarise
from evaluators.spot.simulator import by_region

MODELS = ("strict", "published")


def run_grid(stage: str, grid: Grid, candidate: Candidate, model: str, group_label: str) -> StageResult:
    scenarios = grid.scenarios
    if not candidate.defines("Policy"):
        return StageResult(
            metrics={"score": 0.0, "scenarios": float(len(scenarios))},
            valid=False,
            reason="candidate defines no class Policy",
            feedback="Define `class Policy` with __init__(self, spec) and decide(self, obs).",
        )
    specs = [s.spec for s in scenarios]
    if model == "published":
        outcomes = play_published(candidate, specs, [published_scenario(s, off) for s, off in zip(scenarios, grid.offsets)])
        report = summarise_published(stage, scenarios, outcomes, grid.groups)
        return StageResult(metrics=report.metrics, valid=report.valid, reason=report.reason, feedback=report.feedback)
    outcomes = play(candidate, specs, [by_region(s.spec, s.available) for s in scenarios], grid.offsets)
    report = summarise(stage, scenarios, outcomes, group_label=group_label)
    metrics, feedback = dict(report.metrics), report.feedback
    if any(s.spec.num_regions > 1 for s in scenarios):
        n = len(outcomes)
        metrics["region_switches"] = sum(o.region_switches for o in outcomes) / n
        metrics["failed_launches"] = sum(o.failed_launches for o in outcomes) / n
        feedback += (f"\nper scenario: {metrics['region_switches']:.1f} region moves, "
                     f"{metrics['failed_launches']:.1f} failed spot launches after a move")  # fmt: skip
    return StageResult(metrics=metrics, valid=report.valid, reason=report.reason, feedback=feedback)


def published_scenario(s: Scenario, offset: int) -> published_model.Scenario:
    regions = by_region(s.spec, s.available)
    return published_model.Scenario(
        job_s=s.spec.job_hours * 3600, deadline_s=s.spec.deadline_hours * 3600, overhead_s=s.spec.restart_overhead_hours * 3600,
        gap_s=round(s.spec.tick_hours * 3600), available=tuple(regions), prices=s.prices or (None,) * len(regions), offset=offset,
    )  # fmt: skip
