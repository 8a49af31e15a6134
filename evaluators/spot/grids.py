"""The scenarios of a spot stage, from synthetic traces or from real ones the user points at.

A `Grid` holds a stage's scenarios with the step of the stage's clock at which each starts
(evaluators.spot.timeline: real windows cut from one recording share a clock) and, for the
published multi-region score, which scenarios form each of its region-set groups, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evaluators.spot.recorded import Archive, Recording, region_windows, single_region
from evaluators.spot.scoring import Scenario
from evaluators.spot.simulator import JobSpec
from evaluators.spot.timeline import clock_offsets

# The leaderboard's multi-region groups (its evaluator's FULL_TEST_SCENARIOS): regions, windows.
PUBLISHED_GROUPS: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("2_zones_same_region", ("us-east-1a_v100_1", "us-east-1c_v100_1"), 8),
    ("2_regions_east_west", ("us-east-2a_v100_1", "us-west-2a_v100_1"), 8),
    ("3_regions_diverse", ("us-east-1a_v100_1", "us-east-2b_v100_1", "us-west-2c_v100_1"), 6),
    ("3_zones_same_region", ("us-east-1a_v100_1", "us-east-1c_v100_1", "us-east-1d_v100_1"), 6),
    ("5_regions_high_diversity", ("us-east-1a_v100_1", "us-east-1f_v100_1", "us-west-2a_v100_1", "us-west-2b_v100_1", "us-east-2b_v100_1"), 4),
    ("all_9_regions", ("us-east-2a_v100_1", "us-west-2c_v100_1", "us-east-1d_v100_1", "us-east-2b_v100_1", "us-west-2a_v100_1",
                       "us-east-1f_v100_1", "us-east-1a_v100_1", "us-west-2b_v100_1", "us-east-1c_v100_1"), 2),
)  # fmt: skip
HELD_OUT_FIRST_WINDOW = 50  # test windows of a group: 50, 51, ... (train: 0, 1, ... as published)


@dataclass(frozen=True)
class Grid:
    scenarios: tuple[Scenario, ...]
    offsets: tuple[int, ...]
    groups: tuple[tuple[str, tuple[int, ...]], ...] = field(default=())


def synthetic(scenarios: list[Scenario]) -> Grid:
    return Grid(tuple(scenarios), (0,) * len(scenarios))


def real_single(path: str, envs: tuple[str, ...], per_env: int, deadlines: tuple[float, ...], overheads: tuple[float, ...],
                job_hours: float, held_out: bool) -> Grid:  # fmt: skip
    """The leaderboard's grid: per deadline, overhead and environment, `per_env` windows."""
    archive = Archive(path)
    windows = single_region(archive, overheads, envs, per_env, max(deadlines), held_out)
    scenarios, intervals = [], []
    for deadline in deadlines:
        for overhead in overheads:
            for env in envs:
                for w in windows[(overhead, env)]:
                    spec = JobSpec(job_hours=job_hours, deadline_hours=deadline, restart_overhead_hours=overhead, tick_hours=w.gap_seconds / 3600)
                    scenarios.append(Scenario(env, w.label, spec, w.available, sum(w.available) / len(w.available)))
                    intervals.append(w.interval)
    return Grid(tuple(scenarios), tuple(clock_offsets(intervals)))


def real_multi(path: str, deadline: float, overhead: float, job_hours: float, held_out: bool) -> Grid:
    """The leaderboard's region-set groups, window by window (held out: windows 50, 51, ...)."""
    archive = Archive(path)
    first = HELD_OUT_FIRST_WINDOW if held_out else 0
    requests = [(regions, str(n)) for _, regions, count in PUBLISHED_GROUPS for n in range(first, first + count)]
    loaded = iter(region_windows(archive, requests))
    scenarios, intervals, groups = [], [], []
    for name, regions, count in PUBLISHED_GROUPS:
        members = []
        for _ in range(count):
            windows = next(loaded)
            members.append(len(scenarios))
            scenarios.append(_multi_scenario(name, windows, deadline, overhead, job_hours))
            intervals.append(windows[0].interval)
        groups.append((name, tuple(members)))
    return Grid(tuple(scenarios), tuple(clock_offsets(intervals)), tuple(groups))


def _multi_scenario(group: str, windows: list[Recording], deadline: float, overhead: float, job_hours: float) -> Scenario:
    gap = windows[0].gap_seconds
    spec = JobSpec(job_hours=job_hours, deadline_hours=deadline, restart_overhead_hours=overhead, tick_hours=gap / 3600,
                   num_regions=len(windows))  # fmt: skip
    label = f"{group} #{windows[0].name} [{', '.join(w.source for w in windows)}]"
    mean = sum(sum(w.available) / len(w.available) for w in windows) / len(windows)
    return Scenario(group, label, spec, tuple(w.available for w in windows), mean, tuple(w.prices for w in windows))
