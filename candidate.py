"""Seed policy for spot_single (Can't Be Late): finish a 48 h job before its deadline, cheaply.

Each tick (10 minutes) `decide(obs)` picks NONE, SPOT or ON_DEMAND. Spot costs $0.9731/h and
can vanish; on-demand costs $3.06/h and never does. Starting a cluster, switching type, or
restarting after a preemption costs a restart overhead (billed, no progress). Missing the
deadline, or asking for SPOT while `obs.spot_available` is False, makes the policy invalid.

spec: job_hours, deadline_hours, restart_overhead_hours, tick_hours, spot_price, on_demand_price
obs:  tick, elapsed_hours, work_done_hours, remaining_work_hours, remaining_time_hours,
      pending_overhead_hours, spot_available, last_cluster
A new Policy is built for every scenario, so it may keep per-scenario state on `self`.

This seed is a cautious greedy: spot whenever available, otherwise wait, and fall back to
on-demand for good once the slack left drops below a safety margin.
"""

import math

NONE = 0
SPOT = 1
ON_DEMAND = 2

# EVOLVE-BLOCK-START
SAFETY_MARGIN = 2.0  # hours of slack (beyond one restart) kept in reserve before going on-demand
RESUME_SLACK = 3.0  # while on on-demand, go back to spot only with more slack than this (hours)
LAG_LIMIT = 6.0  # without spot, run on-demand once this many hours behind a uniform schedule
# EVOLVE-BLOCK-END


class Policy:
    # EVOLVE-BLOCK-START
    def __init__(self, spec):
        self.overhead = spec.restart_overhead_hours
        self.rate = spec.job_hours / spec.deadline_hours  # work per hour on a uniform schedule

    def decide(self, obs):
        # Slack: spare time left after the remaining work and one more restart.
        slack = obs.remaining_time_hours - obs.remaining_work_hours - self.overhead
        lag = obs.elapsed_hours * self.rate - obs.work_done_hours
        if slack < SAFETY_MARGIN:
            return ON_DEMAND
        if obs.last_cluster == ON_DEMAND and slack < RESUME_SLACK:
            return ON_DEMAND
        if obs.spot_available:
            return SPOT
        if lag > LAG_LIMIT:
            return ON_DEMAND
        return NONE
    # EVOLVE-BLOCK-END
