"""SpotEvaluator: the spot_single problem's stages (smoke, train, test) over synthetic traces.

Grid per stage: trace types x windows per type x deadlines x restart overheads. The default
train grid is 6 types x 18 windows x {52, 70} h x {0.02, 0.05, 0.1, 0.2, 0.4} h = 1080 scenarios;
test is the same shape on traces drawn from a different seed stream (held out); smoke is one
window per type with two deadlines and two overheads (24 scenarios).

The candidate module must define `class Policy` with `__init__(self, spec)` and
`decide(self, obs) -> int` (see evaluators.spot.simulator). Windows are generated once per
evaluator instance and stage, then reused for every candidate. All scenarios of a stage run in
lockstep in the candidate's process (evaluators.spot.play): one Policy object per scenario, one
batch of observations per tick. Scenarios that replay one window with other deadlines and
overheads see the same tick at the same time, and every window is cut from its own trace, so
no scenario can reveal another's future.
"""

from __future__ import annotations

from evaluators.candidate import Candidate
from evaluators.protocol import StageResult
from evaluators.spot.lockstep import deadline_ticks
from evaluators.spot.play import play
from evaluators.spot.scoring import Scenario, summarise
from evaluators.spot.simulator import TICK_HOURS, JobSpec
from evaluators.spot.traces import TICK_SECONDS, TRACE_TYPES, TRACE_TYPES_BY_NAME, make_windows

DEFAULT_DEADLINES = (52.0, 70.0)
DEFAULT_OVERHEADS = (0.02, 0.05, 0.1, 0.2, 0.4)
SMOKE_OVERHEADS = (0.05, 0.4)


class SpotEvaluator:
    """Can't Be Late, single region. All parameters are keyword-only and have defaults.

    seed: base seed of every trace (stages use disjoint streams derived from it).
    train_windows / test_windows / smoke_windows: availability windows per trace type.
    windows_per_trace: must be 1: windows of one trace would overlap, and in lockstep one
        would show the candidate another's future.
    trace_types: names from evaluators.spot.traces.TRACE_TYPES (default: all six).
    deadlines, overheads: hours; smoke_overheads: the overheads the smoke stage uses.
    job_hours: work the job needs.
    """

    def __init__(
        self,
        *,
        seed: int = 20240416,
        train_windows: int = 18,
        test_windows: int = 18,
        smoke_windows: int = 1,
        windows_per_trace: int = 1,
        trace_types: tuple[str, ...] | list[str] | None = None,
        deadlines: tuple[float, ...] | list[float] = DEFAULT_DEADLINES,
        overheads: tuple[float, ...] | list[float] = DEFAULT_OVERHEADS,
        smoke_overheads: tuple[float, ...] | list[float] = SMOKE_OVERHEADS,
        job_hours: float = 48.0,
    ) -> None:
        names = tuple(trace_types) if trace_types else tuple(t.name for t in TRACE_TYPES)
        unknown = [n for n in names if n not in TRACE_TYPES_BY_NAME]
        if unknown:
            raise ValueError(f"unknown trace types {unknown}; known: {sorted(TRACE_TYPES_BY_NAME)}")
        if not deadlines or not overheads or min(deadlines) < job_hours:
            raise ValueError("need at least one deadline (>= job_hours) and one overhead")
        for deadline in deadlines:
            deadline_ticks(JobSpec(job_hours=float(job_hours), deadline_hours=float(deadline)))  # ValueError if not whole ticks
        if int(windows_per_trace) != 1:
            raise ValueError("windows_per_trace must be 1: overlapping windows of one trace, played in lockstep, leak the future")
        self.stages: tuple[str, ...] = ("smoke", "train", "test")
        self.seed = int(seed)
        self._types = tuple(TRACE_TYPES_BY_NAME[n] for n in names)
        self._windows = {"smoke": int(smoke_windows), "train": int(train_windows), "test": int(test_windows)}
        self._windows_per_trace = int(windows_per_trace)
        self._deadlines = tuple(float(d) for d in deadlines)
        self._overheads = {
            "smoke": tuple(float(o) for o in smoke_overheads),
            "train": tuple(float(o) for o in overheads),
            "test": tuple(float(o) for o in overheads),
        }
        self._job_hours = float(job_hours)
        self._cache: dict[str, list[Scenario]] = {}

    def scenarios(self, stage: str) -> list[Scenario]:
        """The stage's scenarios, built on first use and cached."""
        if stage not in self.stages:
            raise ValueError(f"unknown stage {stage!r}; stages are {self.stages}")
        if stage not in self._cache:
            self._cache[stage] = self._build(stage)
        return self._cache[stage]

    def _build(self, stage: str) -> list[Scenario]:
        window_ticks = round(max(self._deadlines) * 3600 / TICK_SECONDS)
        windows = make_windows(
            seed=self.seed,
            stage=stage,
            trace_types=self._types,
            windows_per_type=self._windows[stage],
            windows_per_trace=self._windows_per_trace,
            window_ticks=window_ticks,
        )
        specs = [
            JobSpec(job_hours=self._job_hours, deadline_hours=d, restart_overhead_hours=o, tick_hours=TICK_HOURS)
            for d in self._deadlines
            for o in self._overheads[stage]
        ]
        return [
            Scenario(w.trace_type, w.label, spec, w.available, w.mean_availability)
            for w in windows
            for spec in specs
        ]

    def run_stage(self, stage: str, candidate: Candidate) -> StageResult:
        scenarios = self.scenarios(stage)
        if not candidate.defines("Policy"):
            return StageResult(
                metrics={"score": 0.0, "scenarios": float(len(scenarios))},
                valid=False,
                reason="candidate defines no class Policy",
                feedback="Define `class Policy` with __init__(self, spec) and decide(self, obs) -> int.",
            )
        outcomes = play(candidate, [s.spec for s in scenarios], [(s.available,) for s in scenarios])
        report = summarise(stage, scenarios, outcomes)
        return StageResult(metrics=report.metrics, valid=report.valid, reason=report.reason, feedback=report.feedback)
