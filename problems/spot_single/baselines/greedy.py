"""Greedy (the published "strawman" of Can't Be Late, NSDI'24).

Use spot whenever it is available, otherwise wait (NONE), until the remaining work plus one
restart, rounded up to whole ticks, no longer fits in the whole ticks left; from then on run
on-demand, except that a spot cluster already running (with its restart overhead paid) is kept
until it is preempted. With zero restart overhead it takes spot whenever it can.
"""

import math

NONE = 0
SPOT = 1
ON_DEMAND = 2


class Policy:
    def __init__(self, spec):
        self.tick = spec.tick_hours
        self.overhead = spec.restart_overhead_hours

    def decide(self, obs):
        tick = self.tick
        running = obs.last_cluster
        if running == SPOT and not obs.spot_available:
            running = NONE  # preempted
        choice = SPOT if obs.spot_available else NONE

        ticks_left = round(obs.remaining_time_hours / tick)
        ticks_needed = math.ceil((obs.remaining_work_hours + self.overhead) / tick - 1e-9)
        if ticks_needed >= ticks_left:
            if running == SPOT and obs.pending_overhead_hours < 1e-9:
                choice = SPOT  # a preemption now still leaves time to finish on on-demand
            else:
                choice = ON_DEMAND
            if self.overhead == 0 and obs.spot_available:
                choice = SPOT
        return choice
