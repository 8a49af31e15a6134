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
STAGES = ("smoke", "train", "test")


class GridStages:
    """What both spot evaluators share: three stages, each a Grid built once (by the subclass's
    `_build`) and played by run_grid under the chosen model. Real traces are read at load, so a
    wrong path or format fails there and not in the first candidate's train stage."""

    group_label = "scenario group"  # how the per-group feedback names a group

    def __init__(self, seed: int, model: str, traces: str | None) -> None:
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, not {model!r}")
        self.stages: tuple[str, ...] = STAGES
        self.seed = int(seed)
        self.model = model
        self._traces = traces
        self._cache: dict[str, Grid] = {}

    def _read_real_traces(self) -> None:
        """Call once the subclass's settings are in place."""
        if self._traces:
            self._cache["train"] = self._build("train")

    def grid(self, stage: str) -> Grid:
        """The stage's scenarios, built on first use and cached."""
        if stage not in self.stages:
            raise ValueError(f"unknown stage {stage!r}; stages are {self.stages}")
        if stage not in self._cache:
            self._cache[stage] = self._build(stage)
        return self._cache[stage]

    def scenarios(self, stage: str) -> list[Scenario]:
        return list(self.grid(stage).scenarios)

    def run_stage(self, stage: str, candidate: Candidate) -> StageResult:
        return run_grid(stage, self.grid(stage), candidate, self.model, self.group_label)

    def _build(self, stage: str) -> Grid:
        raise NotImplementedError


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
