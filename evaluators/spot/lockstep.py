"""The Can't Be Late job model for many scenarios at once, advanced tick by tick in lockstep.

Every scenario of a stage runs in one NumPy state (one entry per scenario); at each tick the
scenarios still running get their observation, all in one call of `decide`, which returns one
answer per scenario: that is one round trip to the candidate's process per tick, however many
scenarios there are. The candidate only ever sees the current tick of each scenario.

The arithmetic is exactly the scalar model's (evaluators.spot.simulator documents it): the same
float64 operations in the same order, elementwise, so a batch gives bit-identical outcomes.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from evaluators.answers import Invalid, show

NONE, SPOT, ON_DEMAND = 0, 1, 2
FIELDS = (
    "tick", "elapsed_hours", "work_done_hours", "remaining_work_hours", "remaining_time_hours",
    "pending_overhead_hours", "spot_available", "last_cluster", "region", "num_regions",
)  # fmt: skip

# decide(indices of the scenarios still running, their observation columns) -> one answer each:
# an int, a [cluster, region] pair (lists arrive for tuples), or Invalid.
Decide = Callable[[np.ndarray, dict], Sequence[object]]


class Batch:
    """Per-scenario state, all in seconds (see evaluators.spot.simulator for the model)."""

    def __init__(self, specs: Sequence, availability: Sequence, offsets: Sequence[int] | None = None):
        n = len(specs)
        self.offset = np.zeros(n, dtype=np.int64) if offsets is None else np.asarray(offsets, dtype=np.int64)
        self.n = n
        self.tick_s = np.array([round(s.tick_hours * 3600.0, 6) for s in specs])
        self.job = np.array([round(s.job_hours * 3600.0, 6) for s in specs])
        self.overhead = np.array([round(s.restart_overhead_hours * 3600.0, 6) for s in specs])
        self.ticks = np.array([deadline_ticks(s) for s in specs], dtype=np.int64)
        self.regions = np.array([len(a) for a in availability], dtype=np.int64)
        width = int(self.ticks.max()) if n else 0
        self.avail = np.zeros((n, int(self.regions.max()) if n else 1, width), dtype=bool)
        for i, per_region in enumerate(availability):
            for r, bits in enumerate(per_region):
                if len(bits) < self.ticks[i]:
                    raise ValueError(f"availability covers {len(bits)} ticks, deadline needs {self.ticks[i]}")
                self.avail[i, r, : self.ticks[i]] = np.asarray(bits[: self.ticks[i]], dtype=bool)
        self.work = np.zeros(n)
        self.pending = np.zeros(n)
        self.last = np.full(n, NONE, dtype=np.int64)
        self.region = np.zeros(n, dtype=np.int64)
        self.od_s = np.zeros(n)
        self.spot_s = np.zeros(n)
        self.invalid = np.zeros(n, dtype=np.int64)
        self.first_invalid: list[str | None] = [None] * n
        self.switches = np.zeros(n, dtype=np.int64)
        self.failed = np.zeros(n, dtype=np.int64)
        self.finished = self.job <= 0.0
        self.end_s = np.where(self.finished, 0.0, self.ticks * self.tick_s)


def run(specs: Sequence, availability: Sequence, decide: Decide, offsets: Sequence[int] | None = None) -> list:
    """Outcomes (evaluators.spot.simulator.Outcome) of every scenario, in order.

    `availability[i]` holds one boolean sequence per region of scenario i (region 0 first).
    `offsets[i]` is the step of the stage's clock at which scenario i plays its tick 0
    (evaluators.spot.timeline: windows of one recording share a clock); default 0 for all.
    One call of `decide` per step for all running scenarios. (Splitting them in two halves that
    take turns, as evaluators.lockstep does, would let this side work while the candidate
    decides, but here this side's work is small and the extra round trips cost more.)
    """
    from evaluators.spot.simulator import Outcome

    b = Batch(specs, availability, offsets)
    everyone = np.arange(b.n)
    last_step = int((b.offset + b.ticks).max()) if b.n else 0
    for step in range(last_step):
        flight = _start(b, step, everyone, decide)
        if flight is not None:
            _apply(b, *flight)
    od_price = np.array([s.on_demand_price for s in specs])
    spot_price = np.array([s.spot_price for s in specs])
    cost = (b.od_s * od_price + b.spot_s * spot_price) / 3600.0
    return [
        Outcome(
            cost=float(cost[i]), on_demand_hours=float(b.od_s[i] / 3600.0), spot_hours=float(b.spot_s[i] / 3600.0),
            finished=bool(b.finished[i]), end_hours=float(b.end_s[i] / 3600.0),
            work_left_hours=float((b.job[i] - b.work[i]) / 3600.0), invalid_decisions=int(b.invalid[i]),
            first_invalid=b.first_invalid[i], region_switches=int(b.switches[i]), failed_launches=int(b.failed[i]),
        )  # fmt: skip
        for i in range(b.n)
    ]


def _start(b: Batch, step: int, group: np.ndarray, decide: Decide):
    """This step's observations for the group's running scenarios, sent to `decide`; None if none runs."""
    local = step - b.offset[group]
    active = group[~b.finished[group] & (local >= 0) & (local < b.ticks[group])]
    if active.size == 0:
        return None
    t = step - b.offset[active]
    observation, context = _observe(b, t, active)
    return t, active, context, decide(active, observation)


def _observe(b: Batch, t: np.ndarray, active: np.ndarray) -> tuple[dict, tuple]:
    tick_s = b.tick_s[active]
    region = b.region[active]
    up = b.avail[active, region, t]
    last = b.last[active]
    preempted = (last == SPOT) & ~up
    running = np.where(preempted, NONE, last)
    pending = np.where(preempted, 0.0, b.pending[active])
    work, job = b.work[active], b.job[active]
    observation = {
        "tick": t.astype(np.int64),
        "elapsed_hours": t * tick_s / 3600.0,
        "work_done_hours": work / 3600.0,
        "remaining_work_hours": (job - work) / 3600.0,
        "remaining_time_hours": (b.ticks[active] - t) * tick_s / 3600.0,
        "pending_overhead_hours": pending / 3600.0,
        "spot_available": up,
        "last_cluster": last,
        "region": region,
        "num_regions": b.regions[active],
    }
    return observation, (tick_s, region, up, last, running, pending, work, job)


def _apply(b: Batch, t: np.ndarray, active: np.ndarray, context: tuple, answers: Sequence[object]) -> None:
    tick_s, region, up, last, running, pending, work, job = context
    choice, target, bad = _parse(answers, b.regions[active])

    moving = (target >= 0) & (target != region) & (choice >= 0)
    if moving.any():
        region = np.where(moving, target, region)
        b.region[active] = region
        up = np.where(moving, b.avail[active, region, t], up)
        running = np.where(moving, NONE, running)
        b.switches[active[moving]] += 1
        blind = moving & (choice == SPOT) & ~up
        b.failed[active[blind]] += 1
        choice = np.where(blind, NONE, choice)
    wrong = bad | (choice < 0) | ((choice == SPOT) & ~up)
    if wrong.any():
        for k in np.flatnonzero(wrong).tolist():
            i = int(active[k])
            b.invalid[i] += 1
            if b.first_invalid[i] is None:
                b.first_invalid[i] = _describe(int(t[k]), answers[k], int(b.regions[i]))
        choice = np.where(wrong, NONE, choice)

    idle = choice == NONE
    start = ~idle & (choice != running)
    pending = np.where(start, b.overhead[active], pending)
    paid = np.minimum(pending, tick_s)
    pending = pending - paid
    progress = tick_s - paid
    left = job - work
    done = ~idle & (progress >= left)
    used = paid + left
    on_spot, on_demand = choice == SPOT, choice == ON_DEMAND
    billed = np.where(done, used, tick_s)
    b.spot_s[active] += np.where(~idle & on_spot, billed, 0.0)
    b.od_s[active] += np.where(~idle & on_demand, billed, 0.0)
    b.work[active] = np.where(done, job, np.where(idle, work, work + progress))
    b.end_s[active] = np.where(done, t * tick_s + used, b.end_s[active])
    b.finished[active] |= done
    b.pending[active] = np.where(idle, 0.0, pending)
    b.last[active] = np.where(idle, NONE, np.where(done, last, choice))


def _parse(answers: Sequence[object], regions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cluster, target region, malformed) per answer; cluster -1 when not a valid 0/1/2 int,
    target -1 for a plain int (stay where you are)."""
    n = len(answers)
    if set(map(type, answers)) <= {int}:
        try:
            choice = np.fromiter(answers, dtype=np.int64, count=n)
        except OverflowError:  # an int beyond int64: the slow path below judges it
            pass
        else:
            choice = np.where((choice < 0) | (choice > ON_DEMAND), -1, choice)
            return choice, np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool)
    choice = np.full(n, -1, dtype=np.int64)
    target = np.full(n, -1, dtype=np.int64)
    bad = np.zeros(n, dtype=bool)
    for k, answer in enumerate(answers):
        if answer.__class__ is int:
            choice[k] = answer if 0 <= answer <= ON_DEMAND else -1
        elif answer.__class__ is list and len(answer) == 2 and answer[1].__class__ is int and 0 <= answer[1] < regions[k]:
            cluster = answer[0]
            choice[k] = cluster if cluster.__class__ is int and 0 <= cluster <= ON_DEMAND else -1
            target[k] = answer[1]
        else:
            bad[k] = True
    return choice, target, bad


def _describe(t: int, answer: object, regions: int) -> str:
    if isinstance(answer, Invalid):
        return f"tick {t}: {answer.reason}"
    if answer.__class__ is int and answer == SPOT:
        return f"tick {t}: SPOT while spot unavailable"
    shown = show(tuple(answer) if answer.__class__ is list else answer)
    if regions > 1:
        return f"tick {t}: returned {shown}, not 0/1/2 or (0/1/2, region in 0..{regions - 1})"
    return f"tick {t}: returned {shown}, not NONE/SPOT/ON_DEMAND (0/1/2)"


def deadline_ticks(spec) -> int:
    """The deadline in whole ticks; ValueError when it is not a whole number of them."""
    tick_s = round(spec.tick_hours * 3600.0, 6)
    deadline_s = round(spec.deadline_hours * 3600.0, 6)
    ticks = round(deadline_s / tick_s)
    if tick_s <= 0 or abs(ticks * tick_s - deadline_s) > 1e-6:
        raise ValueError(f"deadline {spec.deadline_hours} h is not a whole number of {spec.tick_hours} h ticks")
    return ticks
