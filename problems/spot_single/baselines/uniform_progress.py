"""Uniform Progress (UP), the Can't Be Late (NSDI'24) policy, as published (`rc_cr_threshold`).

Keep progress at or above the straight line from 0 work at time 0 to the whole job at the
deadline: spot whenever available; without spot, wait while ahead of the line and run on-demand
while behind it. Once on on-demand, stay there while spot is missing, and also while spot is
back but progress is not yet ahead of the line by two restart overheads (the published rule
that keeps a restart from being wasted). Deadline safety as the published greedy (whole ticks,
two overheads for a stopped or on-demand job, one overhead for everything). Ported to our
interface with the original's arithmetic in seconds.
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
        gap, d, c0, r0 = self.gap, self.overhead, self.task, self.deadline
        elapsed = obs.tick * gap
        remaining_time = math.floor((r0 - elapsed) / gap) * gap
        done = round(obs.work_done_hours * 3600, 6)
        remaining_task = c0 - done
        if remaining_task <= 1e-3:
            return NONE
        has_spot = obs.spot_available
        current = NONE if obs.last_cluster == SPOT and not has_spot else obs.last_cluster  # a preempted spot is gone
        request = SPOT if has_spot else NONE
        if done - elapsed * c0 / r0 < 0:  # behind the line
            request = SPOT if has_spot else ON_DEMAND
        if current == ON_DEMAND and (not has_spot or (elapsed + 2 * d) * c0 / r0 - done >= 0):
            request = ON_DEMAND  # not yet two restarts ahead: keep the on-demand cluster
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
