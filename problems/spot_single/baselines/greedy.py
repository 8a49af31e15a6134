"""Greedy, the published "strawman" of Can't Be Late (NSDI'24; `strawman` in its simulator).

Spot whenever it is available, otherwise wait (NONE). Deadline safety, in whole ticks as the
original computes it: once the work left plus two restart overheads no longer fits in the whole
ticks before the deadline, a stopped or on-demand job goes on-demand; once the work left plus
one overhead no longer fits, everything goes on-demand except a running spot cluster whose
overhead is paid, which is kept until it is preempted (with no overhead at all, spot whenever
available). Ported to our interface with the original's arithmetic in seconds.
"""

import math

NONE = 0
SPOT = 1
ON_DEMAND = 2


class Policy:
    def __init__(self, spec):
        self.gap = round(spec.tick_hours * 3600)
        self.task = spec.job_hours * 3600
        self.deadline = spec.deadline_hours * 3600
        self.overhead = spec.restart_overhead_hours * 3600

    def decide(self, obs):
        gap, d = self.gap, self.overhead
        remaining_time = math.floor((self.deadline - obs.tick * gap) / gap) * gap
        remaining_task = self.task - round(obs.work_done_hours * 3600, 6)
        if remaining_task <= 1e-3:
            return NONE
        has_spot = obs.spot_available
        current = NONE if obs.last_cluster == SPOT and not has_spot else obs.last_cluster  # a preempted spot is gone
        request = SPOT if has_spot else NONE
        if math.ceil((remaining_task + 2 * d) / gap) * gap >= remaining_time and current in (NONE, ON_DEMAND):
            request = ON_DEMAND
        if math.ceil((remaining_task + d) / gap) * gap >= remaining_time:
            if current == SPOT and obs.pending_overhead_hours * 3600 < 1e-3:
                request = SPOT  # keep the spot cluster until it is preempted
            else:
                request = ON_DEMAND
            if d == 0 and has_spot:
                request = SPOT
        return request
