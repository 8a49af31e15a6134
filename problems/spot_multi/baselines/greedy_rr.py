"""Multi-region greedy: spot whenever the current region has it, otherwise move round-robin to
the next region and wait there (NONE), until the remaining work plus one restart no longer fits
in the time left; from then on on-demand, keeping a running spot cluster (overhead paid) until it
is preempted. The single-region greedy of Can't Be Late with round-robin region switching.
"""

import math

NONE = 0
SPOT = 1
ON_DEMAND = 2


class Policy:
    def __init__(self, spec):
        self.tick = spec.tick_hours
        self.overhead = spec.restart_overhead_hours
        self.regions = spec.num_regions

    def decide(self, obs):
        running = obs.last_cluster
        if running == SPOT and not obs.spot_available:
            running = NONE  # preempted
        ticks_left = round(obs.remaining_time_hours / self.tick)
        ticks_needed = math.ceil((obs.remaining_work_hours + self.overhead) / self.tick - 1e-9)
        if ticks_needed >= ticks_left:
            if running == SPOT and obs.pending_overhead_hours < 1e-9:
                return SPOT
            return ON_DEMAND
        if obs.spot_available:
            return SPOT
        if self.regions > 1:
            return (NONE, (obs.region + 1) % self.regions)
        return NONE
