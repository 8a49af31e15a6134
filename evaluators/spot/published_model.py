"""The published Can't Be Late simulator's model (ADRS leaderboard), for many scenarios in lockstep.

Implemented from reading the original (UCB-ADRS/ADRS-Leaderboard, `sky_spot`): its Strategy.step
wraps every policy decision, and that wrapper is part of the model, so it runs here, on the
trusted side. Per tick t of a scenario (all times in seconds, exactly as the original):

1. observe: `has_spot` = availability of the current region at t (a tick past the end of the
   trace fails the simulation, as the original's does). What ran during t-1 (`last`) is billed
   for the whole tick. A SPOT cluster without spot now is preempted (the cluster becomes NONE).
2. progress of t-1: if `last` was not NONE, the pending restart overhead is paid first and the
   rest of the tick is work, capped at the work left (an overhead below 1 ms is dropped).
3. the policy decides (it is asked once more after the job completes, as in the original, and
   a region move made then decides the multi-region price, see below).
4. safety net: unless the job is done, if ceil((work left + d) / gap) ticks no longer fit in the
   whole ticks before the deadline, the decision becomes ON_DEMAND, or SPOT if the cluster that
   ran during t-1 was SPOT with no overhead pending (even if it was just preempted).
5. SPOT where the (new) region has no spot becomes NONE.
6. a new cluster starts (pending overhead := d) when the decision is not NONE and differs from
   what still runs (a preempted cluster counts as NONE). Moving region alone restarts nothing.
The scenario ends at the tick whose observation completes the work; the deadline is never
checked (a late job keeps running, on-demand by the safety net). Cost = billed ticks x price:
on-demand $3.06/h; spot the trace's own price at tick 0 of the region the job is in at the end
(multi region), else 3.06 / (3.06 / 0.9731).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from evaluators.spot.lockstep import NONE, ON_DEMAND, SPOT, Decide, _parse

ON_DEMAND_PRICE = 3.06
SPOT_PRICE = ON_DEMAND_PRICE / (ON_DEMAND_PRICE / 0.9731)  # the original's base / COST_K
FIELDS = (
    "tick", "elapsed_hours", "work_done_hours", "remaining_work_hours", "remaining_time_hours",
    "pending_overhead_hours", "spot_available", "last_cluster", "region", "num_regions",
    "cluster", "elapsed_seconds", "work_done_seconds", "tick_progress_seconds", "pending_overhead_seconds",
    "spot_available_regions", "spot_price_regions",
)  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    """One simulation: a job (seconds) on one window per region, starting at `offset` on the clock."""

    job_s: float
    deadline_s: float
    overhead_s: float
    gap_s: int
    available: tuple[tuple[bool, ...], ...]  # per region
    prices: tuple[tuple[float, ...] | None, ...]  # per region: spot price per tick, or None
    offset: int = 0


@dataclass(frozen=True)
class Outcome:
    cost: float
    finished: bool  # False: the simulation failed (see `failure`)
    completion_hours: float
    missed_deadline: bool
    spot_hours: float  # billed
    on_demand_hours: float
    failure: str | None = None
    region_switches: int = 0


class _State:
    def __init__(self, scenarios: Sequence[Scenario]):
        n = len(scenarios)
        self.s = scenarios
        self.offset = np.array([x.offset for x in scenarios], dtype=np.int64)
        self.gap = np.array([float(x.gap_s) for x in scenarios])
        self.job = np.array([x.job_s for x in scenarios])
        self.deadline = np.array([x.deadline_s for x in scenarios])
        self.d = np.array([x.overhead_s for x in scenarios])
        self.regions = np.array([len(x.available) for x in scenarios], dtype=np.int64)
        self.length = np.array([len(x.available[0]) for x in scenarios], dtype=np.int64)
        width, depth = int(self.length.max()), int(self.regions.max())
        self.avail = np.zeros((n, depth, width), dtype=bool)
        self.price = np.full((n, depth, width), SPOT_PRICE)
        for i, x in enumerate(scenarios):
            for r, bits in enumerate(x.available):
                self.avail[i, r, : len(bits)] = bits
                if x.prices[r] is not None:
                    self.price[i, r, : len(bits)] = x.prices[r]
        self.work = np.zeros(n)
        self.rem = np.zeros(n)
        self.cluster = np.full(n, NONE, dtype=np.int64)
        self.region = np.zeros(n, dtype=np.int64)
        self.billed = np.zeros((n, 3), dtype=np.int64)  # ticks per cluster type
        self.moves = np.zeros(n, dtype=np.int64)
        self.live = np.ones(n, dtype=bool)
        self.outcomes: list[Outcome | None] = [None] * n


def run(scenarios: Sequence[Scenario], decide: Decide) -> list[Outcome]:
    """Every scenario's outcome, in order; one call of `decide` per step for those running."""
    st = _State(scenarios)
    step = 0
    while st.live.any():
        active = np.flatnonzero(st.live & (st.offset <= step))
        if active.size:
            _tick(st, step - st.offset[active], active, decide)
        step += 1
    return st.outcomes


def _tick(st: _State, t: np.ndarray, active: np.ndarray, decide: Decide) -> None:
    past = t >= st.length[active]
    for k in np.flatnonzero(past).tolist():
        _fail(st, int(active[k]), f"tick {int(t[k])} is past the end of the trace (the original fails such a simulation)")
    t, active = t[~past], active[~past]
    if active.size == 0:
        return
    gap, job, rem = st.gap[active], st.job[active], st.rem[active]
    region = st.region[active]
    has = st.avail[active, region, t]
    last = st.cluster[active]
    st.billed[active, last] += t > 0
    preempted = (last == SPOT) & ~has
    ran = last != NONE
    progress = np.where(ran, np.maximum(gap - rem, 0.0), 0.0)
    rem = np.where(ran, rem - (gap - progress), rem)
    rem = np.where(ran & (rem < 1e-3), 0.0, rem)
    progress = np.minimum(progress, job - st.work[active])
    completion = (t - 1) * gap + np.where(ran, np.minimum(st.rem[active], gap) + progress, 0.0)
    work = st.work[active] + progress
    st.work[active], st.rem[active] = work, rem
    done = job - work <= 1e-8
    observation = _observation(st, t, active, last, np.where(preempted, NONE, last), progress)
    answers = decide(active, observation)
    choice, target, bad = _parse(answers, st.regions[active])
    for k in np.flatnonzero(bad | (choice < 0)).tolist():
        _fail(st, int(active[k]), f"tick {int(t[k])}: returned {answers[k]!r}, not NONE/SPOT/ON_DEMAND or (cluster, region)")
    ok = ~(bad | (choice < 0))
    left_time = np.floor((st.deadline[active] - t * gap) / gap) * gap
    left_work = job - work
    needed = np.ceil((left_work + st.d[active]) / gap) * gap
    forced = (left_work > 1e-3) & (needed >= left_time)
    choice = np.where(forced, np.where((last == SPOT) & (rem < 1e-3), SPOT, ON_DEMAND), choice)
    st.moves[active] += ok & (target >= 0) & (target != region)
    region = np.where(target >= 0, target, region)
    choice = np.where((choice == SPOT) & ~st.avail[active, region, t], NONE, choice)
    running = np.where(preempted, NONE, last)
    st.rem[active] = np.where((choice != running) & (choice != NONE), st.d[active], rem)
    st.cluster[active] = np.where(ok, choice, st.cluster[active])
    st.region[active] = np.where(ok, region, st.region[active])
    for k in np.flatnonzero(done & ok).tolist():
        _finish(st, int(active[k]), int(t[k]), float(completion[k]))


def _observation(st: _State, t, active, last, cluster, progress) -> dict:
    gap, work, job, rem = st.gap[active], st.work[active], st.job[active], st.rem[active]
    elapsed = t * gap
    region = st.region[active]
    return {
        "tick": t.astype(np.int64),
        "elapsed_hours": elapsed / 3600.0,
        "work_done_hours": work / 3600.0,
        "remaining_work_hours": (job - work) / 3600.0,
        "remaining_time_hours": (st.deadline[active] - elapsed) / 3600.0,
        "pending_overhead_hours": rem / 3600.0,
        "spot_available": st.avail[active, region, t],
        "last_cluster": last,
        "region": region,
        "num_regions": st.regions[active],
        "cluster": cluster,
        "elapsed_seconds": elapsed,
        "work_done_seconds": work,
        "tick_progress_seconds": progress,
        "pending_overhead_seconds": rem,
        "spot_available_regions": st.avail[active, : int(st.regions[active].max()), t],
        "spot_price_regions": st.price[active, : int(st.regions[active].max()), t],
    }


def _finish(st: _State, i: int, t: int, completion_s: float) -> None:
    """The work completed during tick t-1; the job ends in the region it is in now."""
    x = st.s[i]
    if t + 1 >= st.length[i]:
        return _fail(st, i, f"tick {t + 1} is past the end of the trace (the original fails such a simulation)")
    prices = x.prices[st.region[i]]
    spot_price = prices[0] if prices is not None else SPOT_PRICE
    spot_h, od_h = st.billed[i, SPOT] * x.gap_s / 3600.0, st.billed[i, ON_DEMAND] * x.gap_s / 3600.0
    missed = completion_s > x.deadline_s + 1e-6
    cost = float(spot_h * spot_price + od_h * ON_DEMAND_PRICE)
    st.outcomes[i] = Outcome(cost, True, completion_s / 3600.0, bool(missed), float(spot_h), float(od_h), None, int(st.moves[i]))
    st.live[i] = False


def _fail(st: _State, i: int, reason: str) -> None:
    st.outcomes[i] = Outcome(math.nan, False, math.nan, False, 0.0, 0.0, reason)
    st.live[i] = False
