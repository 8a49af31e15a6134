"""Seed policy for spot_multi: finish a 48 h job by its 52 h deadline cheaply, across regions.

Each 195 s tick `decide(obs)` returns NONE, SPOT or ON_DEMAND (stay in the current region) or a
tuple (cluster, region) to move to another region of the scenario's set first. Spot costs
$0.9731/h and can vanish; on-demand costs $3.06/h. Starting a cluster, switching type, moving
region with a cluster, or restarting after a preemption costs 0.2 h of billed time with no
progress. The policy sees spot availability of its current region only. Missing the deadline,
or SPOT in the current region while `obs.spot_available` is False, makes the policy invalid.

spec: job_hours, deadline_hours, restart_overhead_hours, tick_hours, spot_price,
      on_demand_price, num_regions
obs:  tick, elapsed_hours, work_done_hours, remaining_work_hours, remaining_time_hours,
      pending_overhead_hours, spot_available, last_cluster, region, num_regions

This seed is a cautious greedy: spot whenever the current region has it; otherwise wait, and
after a while without spot try the next region; on-demand for good once the slack gets small.
"""

NONE = 0
SPOT = 1
ON_DEMAND = 2

# EVOLVE-BLOCK-START
SAFETY_MARGIN = 2.0  # hours of slack (beyond one restart) kept in reserve before going on-demand
HOP_AFTER = 40  # ticks to wait without spot before trying the next region
LAG_LIMIT = 3.0  # without spot, run on-demand once this many hours behind a uniform schedule
# EVOLVE-BLOCK-END


class Policy:
    # EVOLVE-BLOCK-START
    def __init__(self, spec):
        self.overhead = spec.restart_overhead_hours
        self.rate = spec.job_hours / spec.deadline_hours
        self.regions = spec.num_regions
        self.waited = 0

    def decide(self, obs):
        slack = obs.remaining_time_hours - obs.remaining_work_hours - self.overhead
        lag = obs.elapsed_hours * self.rate - obs.work_done_hours
        if slack < SAFETY_MARGIN:
            return ON_DEMAND
        if obs.spot_available:
            self.waited = 0
            return SPOT
        if lag > LAG_LIMIT:
            return ON_DEMAND
        self.waited += 1
        if self.waited > HOP_AFTER and self.regions > 1:
            self.waited = 0
            return (NONE, (obs.region + 1) % self.regions)
        return NONE
    # EVOLVE-BLOCK-END
