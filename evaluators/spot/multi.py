"""MultiRegionEvaluator: the spot_multi problem's stages over multi-region traces.

Same job model and simulators as spot_single (evaluators.spot.simulator, the R-region case;
evaluators.spot.published_model): a 48 h job, deadline 52 h, restart overhead 0.2 h, 195 s
ticks, 60 h traces.

Synthetic grid per stage: region-set sizes 2..9 x windows per size, zones of the published set
calibrated to the real traces (evaluators.spot.regions). Default train = 8 x 40 = 320 scenarios;
test has the same shape from a disjoint seed stream (held out); smoke is one window per size.
`traces` (a path to the published real traces, evaluators.spot.recorded): train is the
leaderboard's six region-set groups (34 scenarios, windows 0..7), test the same groups on
windows 50..57; smoke stays synthetic (the module doc of evaluators.spot.evaluator says why real
traces are for scoring programs, not for a run's held-out guard).

`model`: "strict" (ours: moving restarts any cluster, only the current region is visible, one
spot price, a missed deadline or an invalid decision is invalid) or "published" (the
leaderboard's: moves are free unless the cluster type changes, every region's present is
visible, spot billed at the trace's own price; scored per region-set group as published).
"""

from __future__ import annotations

from evaluators.spot import grids
from evaluators.spot.lockstep import deadline_ticks
from evaluators.spot.regions import TICK_SECONDS, TRACE_TICKS, make_region_windows
from evaluators.spot.scoring import Scenario
from evaluators.spot.simulator import JobSpec
from evaluators.spot.stages import GridStages

DEFAULT_COUNTS = (2, 3, 4, 5, 6, 7, 8, 9)


class MultiRegionEvaluator(GridStages):
    """Can't Be Late, multi-region. All parameters are keyword-only and have defaults.

    seed: base seed (stages use disjoint streams). train_windows / test_windows / smoke_windows:
    scenarios per region-set size. region_counts: the sizes (1..9). deadline_hours,
    overhead_hours, job_hours: the job (hours). model: "strict" or "published". traces: a path.
    """

    group_label = "region-set size"

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
        model: str = "strict",
        traces: str | None = None,
    ) -> None:
        if deadline_hours < job_hours or not region_counts:
            raise ValueError("need a deadline >= job_hours and at least one region-set size")
        deadline_ticks(JobSpec(job_hours=float(job_hours), deadline_hours=float(deadline_hours), tick_hours=TICK_SECONDS / 3600))
        super().__init__(seed, model, traces)
        self._windows = {"smoke": int(smoke_windows), "train": int(train_windows), "test": int(test_windows)}
        self._counts = tuple(int(c) for c in region_counts)
        self._deadline = float(deadline_hours)
        self._overhead = float(overhead_hours)
        self._job = float(job_hours)
        self._read_real_traces()

    def _build(self, stage: str) -> grids.Grid:
        if self._traces and stage != "smoke":
            return grids.real_multi(self._traces, self._deadline, self._overhead, self._job, held_out=stage == "test")
        windows = make_region_windows(seed=self.seed, stage=stage, counts=self._counts, windows_per_count=self._windows[stage],
                                      window_ticks=TRACE_TICKS)  # fmt: skip
        scenarios = []
        for w in windows:
            spec = JobSpec(job_hours=self._job, deadline_hours=self._deadline, restart_overhead_hours=self._overhead,
                           tick_hours=TICK_SECONDS / 3600, num_regions=len(w.zones))  # fmt: skip
            scenarios.append(Scenario(f"{len(w.zones)} regions", w.label, spec, w.available, w.mean_availability))
        return grids.synthetic(scenarios)
