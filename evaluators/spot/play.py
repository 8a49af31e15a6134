"""Play a candidate's Policy through every scenario of a stage: one object per scenario in the
candidate's process, one `invoke` of `decide` per tick for all the scenarios still running."""

from __future__ import annotations

import dataclasses
from typing import Sequence

from evaluators.candidate import Candidate
from evaluators.spot import lockstep
from sandboxes.wire import Records

SPEC_FIELDS = ("job_hours", "deadline_hours", "restart_overhead_hours", "tick_hours", "spot_price", "on_demand_price", "num_regions")


def play(candidate: Candidate, specs: Sequence, availability: Sequence) -> list:
    """Outcomes per scenario (evaluators.spot.simulator.Outcome); CandidateFailed propagates."""
    rows = [dataclasses.astuple(s) for s in specs]
    columns = {name: [row[k] for row in rows] for k, name in enumerate(SPEC_FIELDS)}
    policies = candidate.create("Policy", columns=[Records("JobSpec", columns)])

    def decide(active, observation: dict) -> list:
        return candidate.invoke(policies[active], "decide", columns=[Records("Observation", observation)])

    outcomes = lockstep.run(specs, availability, decide)
    candidate.drop(policies)
    return outcomes
