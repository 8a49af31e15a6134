"""Uniform Progress with round-robin region switching (the ADRS multi-region baseline).

Uniform Progress (Can't Be Late, NSDI'24) in the current region: spot whenever available;
without spot, wait while ahead of the straight line from 0 work at time 0 to the whole job at
the deadline and run on-demand while behind it; an on-demand cluster already running is kept
until spot returns; safety net as in the single-region policy. Round-robin: when the spot
cluster is preempted, or while waiting with no spot here, move to the next region of the set
(region + 1, wrapping), where availability becomes visible from the next tick.
"""

import math

NONE = 0
SPOT = 1
ON_DEMAND = 2


class Policy:
    def __init__(self, spec):
        self.tick = spec.tick_hours
        self.overhead = spec.restart_overhead_hours
        self.rate = spec.job_hours / spec.deadline_hours
        self.regions = spec.num_regions

    def decide(self, obs):
        tick = self.tick
        overhead = self.overhead
        has_spot = obs.spot_available
        running = obs.last_cluster
        if running == SPOT and not has_spot:
            running = NONE  # preempted

        choice = SPOT if has_spot else NONE
        if obs.work_done_hours - obs.elapsed_hours * self.rate < 0:  # behind the line
            choice = SPOT if has_spot else ON_DEMAND
        if running == ON_DEMAND and not has_spot:
            choice = ON_DEMAND

        ticks_left = round(obs.remaining_time_hours / tick)
        work = obs.remaining_work_hours
        if math.ceil((work + 2 * overhead) / tick - 1e-9) >= ticks_left and running != SPOT:
            choice = ON_DEMAND
        if math.ceil((work + overhead) / tick - 1e-9) >= ticks_left:
            if running == SPOT and obs.pending_overhead_hours < 1e-9:
                choice = SPOT
            else:
                choice = ON_DEMAND
        if not has_spot and running != ON_DEMAND and self.regions > 1:
            return (choice, (obs.region + 1) % self.regions)  # round-robin to the next region
        return choice
