"""Multi-region greedy with round-robin, the ADRS leaderboard's baseline (its initial program).

Spot whenever the current region has it; otherwise move to the next region of the set (region
+ 1, wrapping) and wait there (NONE). Deadline safety, in whole ticks as the original computes
it: once the work left plus one restart overhead no longer fits in the whole ticks before the
deadline, on-demand, except that a spot cluster that ran in the last tick with its overhead
paid is kept (if it was just preempted, that tick is lost: SPOT without spot is nothing, as in
the original simulator); once the work left plus two overheads no longer fits, a spot cluster
still running is kept and anything else goes on-demand. Ported to our interface with the
original's arithmetic in seconds.
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
        self.regions = spec.num_regions

    def decide(self, obs):
        gap, d = self.gap, self.overhead
        remaining_task = self.task - round(obs.work_done_hours * 3600, 6)
        if remaining_task <= 1e-3:
            return NONE
        remaining_time = math.floor((self.deadline - obs.tick * gap) / gap) * gap
        has_spot = obs.spot_available
        if math.ceil((remaining_task + d) / gap) * gap >= remaining_time:
            if obs.last_cluster == SPOT and obs.pending_overhead_hours * 3600 < 1e-3:
                return SPOT if has_spot else NONE
            return ON_DEMAND
        if math.ceil((remaining_task + 2 * d) / gap) * gap >= remaining_time:
            return SPOT if obs.last_cluster == SPOT and has_spot else ON_DEMAND
        if has_spot:
            return SPOT
        if self.regions > 1:
            return (NONE, (obs.region + 1) % self.regions)
        return NONE
