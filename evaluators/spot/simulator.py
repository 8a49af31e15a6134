"""The Can't Be Late job model (one or several regions): the rules, the types, and a local runner.

spot_single is the one-region case and spot_multi the general case; both problems run exactly
this model (ours; `model = "published"` runs evaluators.spot.published_model instead), for all
scenarios of a stage at once (evaluators.spot.lockstep). `simulate` runs one
scenario with a trusted in-process policy (tests, research scripts); candidates are only ever
scored through the evaluators, across the sandbox boundary.

Exact accounting (all internal quantities in seconds; with integer-second ticks and overheads,
as in every grid we ship, the arithmetic is exact in floating point):

* Time is split into ticks of `tick` seconds; the deadline is a whole number of ticks `T`.
  `available[t]` says whether spot capacity exists during tick t, i.e. [t*tick, (t+1)*tick).
* At the start of tick t the simulator first applies preemption: if the cluster that ran during
  tick t-1 was SPOT and spot is not available in tick t, that cluster is gone. It then shows the
  policy an observation (state at the start of tick t: a read-only record with the fields in
  evaluators.spot.lockstep.FIELDS) and asks for a decision c in {NONE, SPOT, ON_DEMAND}.
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

from collections import namedtuple
from dataclasses import dataclass
from typing import Callable

from evaluators.spot import lockstep

NONE = lockstep.NONE
SPOT = lockstep.SPOT
ON_DEMAND = lockstep.ON_DEMAND
CLUSTER_NAMES = {NONE: "NONE", SPOT: "SPOT", ON_DEMAND: "ON_DEMAND"}

ON_DEMAND_PRICE = 3.06  # $/h
SPOT_PRICE = 0.9731  # $/h
TICK_HOURS = 600 / 3600

Observation = namedtuple("Observation", lockstep.FIELDS)


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


def by_region(spec: JobSpec, available) -> tuple:
    """One availability sequence per region (a single sequence is region 0 of one)."""
    if spec.num_regions == 1 and len(available) and not hasattr(available[0], "__len__"):
        return (available,)
    if len(available) != spec.num_regions:
        raise ValueError(f"availability has {len(available)} regions, spec says {spec.num_regions}")
    return tuple(available)


def simulate(policy_factory: Callable[[JobSpec], object], spec: JobSpec, available) -> Outcome:
    """Run one scenario with a trusted, in-process policy: `policy_factory(spec).decide(obs)`.

    `available` is one availability sequence (one region) or one per region; each must cover at
    least the deadline's ticks. Exceptions from the policy propagate. Answers are judged as a
    candidate's are, after the boundary turns tuples into lists.
    """
    decide = policy_factory(spec).decide

    def local(_, columns: dict) -> list:
        rows = zip(*(columns[name].tolist() for name in lockstep.FIELDS))
        return [_as_sent(decide(Observation(*row))) for row in rows]

    return lockstep.run([spec], [by_region(spec, available)], local)[0]


def _as_sent(answer: object) -> object:
    """What an answer looks like after crossing the boundary (plain data; tuples arrive as lists)."""
    from sandboxes import wire

    return wire.unpack_trusted(wire.pack_answers([answer]))[0]
