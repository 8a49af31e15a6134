"""The Can't Be Late job model (one or several regions), one scenario at a time, as a tight loop.

spot_single is the one-region case of this loop and spot_multi the general case; both problems
run exactly this code.

Exact accounting (all internal quantities in seconds; with integer-second ticks and overheads,
as in every grid we ship, the arithmetic is exact in floating point):

* Time is split into ticks of `tick` seconds; the deadline is a whole number of ticks `T`.
  `available[t]` says whether spot capacity exists during tick t, i.e. [t*tick, (t+1)*tick).
* At the start of tick t the simulator first applies preemption: if the cluster that ran during
  tick t-1 was SPOT and spot is not available in tick t, that cluster is gone. It then shows the
  policy an observation (state at the start of tick t) and asks for a decision c in
  {NONE, SPOT, ON_DEMAND}.
* An invalid decision (SPOT while spot is unavailable, or anything but the int constants 0/1/2)
  is counted and treated as NONE for the rest of the tick; any invalid decision makes the
  scenario invalid.
* NONE: nothing runs during tick t; no cost, no progress; any cluster is released.
* SPOT / ON_DEMAND: if c differs from the cluster still running (none after a release or a
  preemption, or the other type), a new cluster starts and the pending restart overhead becomes
  d (replacing whatever was still pending). Within the tick the pending overhead is paid first
  (billed, no progress), the rest of the tick is progress. Staying on the same cluster keeps
  paying down what is pending. A preemption therefore costs d when the next cluster starts.
* Work is capped at the job length. If the job completes inside tick t, only the time actually
  needed is billed (the overhead paid in that tick plus the work that was left) and the scenario
  ends there. Otherwise the whole tick is billed at the price of c.
* If the deadline (end of tick T-1) arrives with work left, the deadline is missed.

Regions (spec.num_regions = R >= 1; `available` then holds one availability sequence per region):

* The job starts in region 0. The policy sees spot availability of its current region only
  (`obs.spot_available`, `obs.region`).
* A decision is an int (stay in the current region) or a tuple `(cluster, region)`. Moving to
  another region releases whatever runs in the old one, so any SPOT / ON_DEMAND in the new region
  starts a new cluster and pays the restart overhead d. Moving with NONE costs nothing but the tick.
* SPOT in a region the policy has just moved to, when that region has no spot this tick, is a
  failed launch (counted, not invalid: the policy could not see it): nothing runs this tick.
  SPOT in the current region while `obs.spot_available` is False stays an invalid decision, as is
  a malformed tuple or a region outside [0, R).

Cost = (on-demand seconds * on-demand price + spot seconds * spot price) / 3600. A policy that
runs on-demand from tick 0 pays exactly (job + d) hours of on-demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

NONE = 0
SPOT = 1
ON_DEMAND = 2
CLUSTER_NAMES = {NONE: "NONE", SPOT: "SPOT", ON_DEMAND: "ON_DEMAND"}

ON_DEMAND_PRICE = 3.06  # $/h
SPOT_PRICE = 0.9731  # $/h
TICK_HOURS = 600 / 3600


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a policy is told once per scenario (hours and $/h)."""

    job_hours: float = 48.0
    deadline_hours: float = 52.0
    restart_overhead_hours: float = 0.1
    tick_hours: float = TICK_HOURS
    spot_price: float = SPOT_PRICE
    on_demand_price: float = ON_DEMAND_PRICE
    num_regions: int = 1


class Observation:
    """What a policy sees at the start of each tick; one object is reused for a whole scenario."""

    __slots__ = (
        "tick",
        "elapsed_hours",
        "work_done_hours",
        "remaining_work_hours",
        "remaining_time_hours",
        "pending_overhead_hours",
        "spot_available",
        "last_cluster",
        "region",
        "num_regions",
    )

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Observation({fields})"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one scenario ended."""

    cost: float
    on_demand_hours: float  # billed hours per cluster type
    spot_hours: float
    finished: bool
    end_hours: float  # completion time, or the deadline when missed
    work_left_hours: float
    invalid_decisions: int
    first_invalid: str | None  # e.g. "tick 17: SPOT while spot unavailable"
    region_switches: int = 0
    failed_launches: int = 0  # SPOT right after a move into a region without spot


def _seconds(hours: float) -> float:
    return round(hours * 3600.0, 6)


@lru_cache(maxsize=64)
def _clock(ticks: int, tick_s: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Elapsed and remaining hours at the start of each tick, computed once per deadline."""
    elapsed = tuple(t * tick_s / 3600.0 for t in range(ticks))
    remaining = tuple((ticks - t) * tick_s / 3600.0 for t in range(ticks))
    return elapsed, remaining


def deadline_ticks(spec: JobSpec) -> int:
    tick_s = _seconds(spec.tick_hours)
    ticks = round(_seconds(spec.deadline_hours) / tick_s)
    if tick_s <= 0 or abs(ticks * tick_s - _seconds(spec.deadline_hours)) > 1e-6:
        raise ValueError(f"deadline {spec.deadline_hours} h is not a whole number of {spec.tick_hours} h ticks")
    return ticks


def _describe_invalid(tick: int, choice: object, regions: int) -> str:
    if choice.__class__ is int and choice == SPOT:
        return f"tick {tick}: SPOT while spot unavailable"
    if regions > 1:
        return f"tick {tick}: returned {choice!r}, not 0/1/2 or (0/1/2, region in 0..{regions - 1})"
    return f"tick {tick}: returned {choice!r}, not NONE/SPOT/ON_DEMAND (0/1/2)"


def _split(choice: object, regions: int) -> tuple[object, int] | None:
    """(cluster, region) from a tuple decision, or None when the tuple is malformed."""
    if choice.__class__ is not tuple or len(choice) != 2:
        return None
    cluster, region = choice
    if region.__class__ is not int or not 0 <= region < regions:
        return None
    return cluster, region


def _by_region(spec: JobSpec, available) -> Sequence[Sequence[bool]]:
    if spec.num_regions == 1 and len(available) and not hasattr(available[0], "__len__"):
        return (available,)
    if len(available) != spec.num_regions:
        raise ValueError(f"availability has {len(available)} regions, spec says {spec.num_regions}")
    return available


def simulate(policy_factory: Callable[[JobSpec], object], spec: JobSpec, available) -> Outcome:
    """Run one scenario: a fresh policy from `policy_factory(spec)` against `available`.

    `available` is one availability sequence (one region) or one per region; each must cover at
    least the deadline's ticks. Exceptions from the policy propagate.
    """
    ticks = deadline_ticks(spec)
    regions = _by_region(spec, available)
    num_regions = len(regions)
    if min(len(a) for a in regions) < ticks:
        raise ValueError(f"availability covers {min(len(a) for a in regions)} ticks, deadline needs {ticks}")
    tick_s = _seconds(spec.tick_hours)
    job = _seconds(spec.job_hours)
    overhead = _seconds(spec.restart_overhead_hours)
    elapsed_h, left_h = _clock(ticks, tick_s)

    decide = policy_factory(spec).decide
    obs = Observation()
    obs.region = region = 0
    obs.num_regions = num_regions
    avail = regions[0]
    switches = 0
    failed = 0
    work = 0.0
    pending = 0.0
    last = NONE
    od_s = 0.0
    spot_s = 0.0
    invalid = 0
    first_invalid = None
    finished = job <= 0.0
    end_s = 0.0 if finished else ticks * tick_s

    for t in range(ticks if finished else 0, ticks):
        up = avail[t]
        running = last
        if last == SPOT and not up:
            running = NONE  # preempted: the spot cluster is gone
            pending = 0.0
        obs.tick = t
        obs.elapsed_hours = elapsed_h[t]
        obs.remaining_time_hours = left_h[t]
        obs.work_done_hours = work / 3600.0
        obs.remaining_work_hours = (job - work) / 3600.0
        obs.pending_overhead_hours = pending / 3600.0
        obs.spot_available = up
        obs.last_cluster = last

        choice = raw = decide(obs)
        if choice.__class__ is tuple:
            split = _split(choice, num_regions)
            if split is None:
                choice = -1  # invalid below
            else:
                choice, target = split
                if target != region and choice.__class__ is int and 0 <= choice <= 2:
                    obs.region = region = target
                    avail = regions[target]
                    up = avail[t]
                    running = NONE  # the old region's cluster is released
                    switches += 1
                    if choice == SPOT and not up:
                        failed += 1
                        choice = NONE
        if choice.__class__ is not int or choice < 0 or choice > 2 or (choice == SPOT and not up):
            invalid += 1
            if first_invalid is None:
                first_invalid = _describe_invalid(t, raw, num_regions)
            choice = NONE
        if choice == NONE:
            last = NONE
            pending = 0.0
            continue
        if choice != running:
            pending = overhead  # start a cluster (restart after preemption, or switch type)
        paid = pending if pending < tick_s else tick_s
        pending -= paid
        progress = tick_s - paid
        left = job - work
        if progress >= left:
            used = paid + left
            if choice == SPOT:
                spot_s += used
            else:
                od_s += used
            work = job
            end_s = t * tick_s + used
            finished = True
            break
        work += progress
        if choice == SPOT:
            spot_s += tick_s
        else:
            od_s += tick_s
        last = choice

    cost = (od_s * spec.on_demand_price + spot_s * spec.spot_price) / 3600.0
    return Outcome(
        cost=cost,
        on_demand_hours=od_s / 3600.0,
        spot_hours=spot_s / 3600.0,
        finished=finished,
        end_hours=end_s / 3600.0,
        work_left_hours=(job - work) / 3600.0,
        invalid_decisions=invalid,
        first_invalid=first_invalid,
        region_switches=switches,
        failed_launches=failed,
    )
