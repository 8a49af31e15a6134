"""SpotEvaluator: the spot_single problem's stages (smoke, train, test).

Grid per stage: environments x windows per environment x deadlines x restart overheads. The
default is the leaderboard's grid, 6 environments x 30 windows x {52, 70} h x {0.02, 0.05, 0.1} h
= 1080 scenarios, on synthetic traces calibrated to the real ones (evaluators.spot.traces); test
has the same shape from a different seed stream (held out); smoke is one window per environment
with two deadlines and two overheads (24 scenarios).

`traces`: a path to the published real traces (evaluators.spot.recorded): train is then the
leaderboard's selection of windows (30 spread evenly over each environment's 300) and test as
many others; smoke stays synthetic. Windows of one recording overlap, so they play on one clock
(evaluators.spot.timeline). Train and test windows come from the same recordings: a candidate
that memorises train could know parts of test, so real traces are for scoring programs
(`evolve eval`: each stage its own sandbox job), not a held-out guard during a run.

`model`: "strict" (ours, evaluators.spot.simulator: a missed deadline or SPOT without spot is
invalid, the last tick is billed for the time used) or "published" (the leaderboard's
simulator, evaluators.spot.published_model, scored as published: evaluators.spot.published_scoring).

The candidate module must define `class Policy` with `__init__(self, spec)` and
`decide(self, obs) -> int`. All scenarios of a stage run in lockstep in the candidate's process
(evaluators.spot.play): one Policy object per scenario, one batch of observations per step.
"""

from __future__ import annotations

from evaluators.spot import grids
from evaluators.spot.lockstep import deadline_ticks
from evaluators.spot.simulator import TICK_HOURS, JobSpec
from evaluators.spot.stages import GridStages
from evaluators.spot.traces import LEADERBOARD_ENVS, TICK_SECONDS, TRACE_TYPES_BY_NAME, make_windows
from evaluators.spot.scoring import Scenario

DEFAULT_DEADLINES = (52.0, 70.0)
DEFAULT_OVERHEADS = (0.02, 0.05, 0.1)
SMOKE_OVERHEADS = (0.05, 0.1)
WINDOW_TICKS = 554  # 92.3 h, as the published windows: the published model runs past a deadline


class SpotEvaluator(GridStages):
    """Can't Be Late, single region. All parameters are keyword-only and have defaults.

    seed: base seed of every synthetic trace (stages use disjoint streams derived from it).
    train_windows / test_windows / smoke_windows: windows per environment.
    windows_per_trace: must be 1: windows of one synthetic trace would overlap.
    trace_types: environment names (evaluators.spot.traces.TRACE_TYPES; default: the leaderboard's six).
    deadlines, overheads: hours; smoke_overheads: the overheads the smoke stage uses.
    job_hours: work the job needs. model: "strict" or "published". traces: real traces (path).
    """

    group_label = "environment"

    def __init__(
        self,
        *,
        seed: int = 20240416,
        train_windows: int = 30,
        test_windows: int = 30,
        smoke_windows: int = 1,
        windows_per_trace: int = 1,
        trace_types: tuple[str, ...] | list[str] | None = None,
        deadlines: tuple[float, ...] | list[float] = DEFAULT_DEADLINES,
        overheads: tuple[float, ...] | list[float] = DEFAULT_OVERHEADS,
        smoke_overheads: tuple[float, ...] | list[float] = SMOKE_OVERHEADS,
        job_hours: float = 48.0,
        model: str = "strict",
        traces: str | None = None,
    ) -> None:
        names = tuple(trace_types) if trace_types else LEADERBOARD_ENVS
        unknown = [n for n in names if n not in TRACE_TYPES_BY_NAME]
        if unknown and not traces:
            raise ValueError(f"unknown trace types {unknown}; known: {sorted(TRACE_TYPES_BY_NAME)}")
        if not deadlines or not overheads or min(deadlines) < job_hours:
            raise ValueError("need at least one deadline (>= job_hours) and one overhead")
        for deadline in deadlines:
            deadline_ticks(JobSpec(job_hours=float(job_hours), deadline_hours=float(deadline)))  # ValueError if not whole ticks
        if int(windows_per_trace) != 1:
            raise ValueError("windows_per_trace must be 1: overlapping windows of one trace, played in lockstep, leak the future")
        super().__init__(seed, model, traces)
        self._names = names
        self._windows = {"smoke": int(smoke_windows), "train": int(train_windows), "test": int(test_windows)}
        self._deadlines = tuple(float(d) for d in deadlines)
        self._overheads = {"smoke": tuple(float(o) for o in smoke_overheads), "train": tuple(float(o) for o in overheads),
                           "test": tuple(float(o) for o in overheads)}  # fmt: skip
        self._job_hours = float(job_hours)
        self._read_real_traces()

    def _build(self, stage: str) -> grids.Grid:
        if self._traces and stage != "smoke":
            return grids.real_single(self._traces, self._names, self._windows[stage], self._deadlines, self._overheads[stage],
                                     self._job_hours, held_out=stage == "test")  # fmt: skip
        window_ticks = max(WINDOW_TICKS, round(max(self._deadlines) * 3600 / TICK_SECONDS) + 1)
        types = tuple(TRACE_TYPES_BY_NAME[n] for n in self._names if n in TRACE_TYPES_BY_NAME)
        types = types or tuple(TRACE_TYPES_BY_NAME[n] for n in LEADERBOARD_ENVS)  # real-only names: a synthetic smoke
        windows = make_windows(seed=self.seed, stage=stage, trace_types=types, windows_per_type=self._windows[stage],
                               windows_per_trace=1, window_ticks=window_ticks)  # fmt: skip
        specs = [JobSpec(job_hours=self._job_hours, deadline_hours=d, restart_overhead_hours=o, tick_hours=TICK_HOURS)
                 for d in self._deadlines for o in self._overheads[stage]]  # fmt: skip
        return grids.synthetic([Scenario(w.trace_type, w.label, spec, w.available, w.mean_availability) for w in windows for spec in specs])
