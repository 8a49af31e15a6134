"""MultiRegionEvaluator: the spot_multi problem's stages over synthetic multi-region traces.

Same job model and simulator as spot_single (evaluators.spot.simulator, the R-region case): a
48 h job, deadline 52 h, restart overhead 0.2 h, 195 s ticks; the policy may move between the
scenario's regions (a move restarts any cluster) and sees spot availability only where it is.

Grid per stage: region-set sizes 2..9 x windows per size. Default train = 8 x 40 = 320
scenarios; test has the same shape from a disjoint seed stream (held out); smoke is one window
per size (8 scenarios). Scoring is spot_single's (evaluators.spot.scoring): the OD / SPOT
normalisation, invalid on any missed deadline or invalid decision. All scenarios of a stage run
in lockstep in the candidate's process (evaluators.spot.play), each on its own traces.
"""

from __future__ import annotations

from evaluators.candidate import Candidate
from evaluators.protocol import StageResult
from evaluators.spot.lockstep import deadline_ticks
from evaluators.spot.play import play
from evaluators.spot.regions import TICK_SECONDS, make_region_windows
from evaluators.spot.scoring import Scenario, summarise
from evaluators.spot.simulator import JobSpec

DEFAULT_COUNTS = (2, 3, 4, 5, 6, 7, 8, 9)


class MultiRegionEvaluator:
    """Can't Be Late, multi-region. All parameters are keyword-only and have defaults.

    seed: base seed (stages use disjoint streams). train_windows / test_windows / smoke_windows:
    scenarios per region-set size. region_counts: the sizes (1..9). deadline_hours,
    overhead_hours, job_hours: the job (hours).
    """

    def __init__(
        self,
        *,
        seed: int = 20250612,
        train_windows: int = 40,
        test_windows: int = 40,
        smoke_windows: int = 1,
        region_counts: tuple[int, ...] | list[int] = DEFAULT_COUNTS,
        deadline_hours: float = 52.0,
        overhead_hours: float = 0.2,
        job_hours: float = 48.0,
    ) -> None:
        if deadline_hours < job_hours or not region_counts:
            raise ValueError("need a deadline >= job_hours and at least one region-set size")
        deadline_ticks(JobSpec(job_hours=float(job_hours), deadline_hours=float(deadline_hours), tick_hours=TICK_SECONDS / 3600))
        self.stages: tuple[str, ...] = ("smoke", "train", "test")
        self.seed = int(seed)
        self._windows = {"smoke": int(smoke_windows), "train": int(train_windows), "test": int(test_windows)}
        self._counts = tuple(int(c) for c in region_counts)
        self._deadline = float(deadline_hours)
        self._overhead = float(overhead_hours)
        self._job = float(job_hours)
        self._cache: dict[str, list[Scenario]] = {}

    def scenarios(self, stage: str) -> list[Scenario]:
        """The stage's scenarios, built on first use and cached."""
        if stage not in self.stages:
            raise ValueError(f"unknown stage {stage!r}; stages are {self.stages}")
        if stage not in self._cache:
            self._cache[stage] = self._build(stage)
        return self._cache[stage]

    def _build(self, stage: str) -> list[Scenario]:
        ticks = round(self._deadline * 3600 / TICK_SECONDS)
        windows = make_region_windows(
            seed=self.seed, stage=stage, counts=self._counts, windows_per_count=self._windows[stage], window_ticks=ticks
        )
        scenarios = []
        for w in windows:
            spec = JobSpec(
                job_hours=self._job,
                deadline_hours=self._deadline,
                restart_overhead_hours=self._overhead,
                tick_hours=TICK_SECONDS / 3600,
                num_regions=len(w.zones),
            )
            scenarios.append(Scenario(f"{len(w.zones)} regions", w.label, spec, w.available, w.mean_availability))
        return scenarios

    def run_stage(self, stage: str, candidate: Candidate) -> StageResult:
        scenarios = self.scenarios(stage)
        if not candidate.defines("Policy"):
            return StageResult(
                metrics={"score": 0.0, "scenarios": float(len(scenarios))},
                valid=False,
                reason="candidate defines no class Policy",
                feedback="Define `class Policy` with __init__(self, spec) and decide(self, obs).",
            )
        outcomes = play(candidate, [s.spec for s in scenarios], [s.available for s in scenarios])
        report = summarise(stage, scenarios, outcomes, group_label="region-set size")
        n = len(outcomes)
        metrics = dict(report.metrics)
        metrics["region_switches"] = sum(o.region_switches for o in outcomes) / n
        metrics["failed_launches"] = sum(o.failed_launches for o in outcomes) / n
        feedback = (
            f"{report.feedback}\nper scenario: {metrics['region_switches']:.1f} region moves, "
            f"{metrics['failed_launches']:.1f} failed spot launches after a move"
        )
        return StageResult(metrics=metrics, valid=report.valid, reason=report.reason, feedback=feedback)
