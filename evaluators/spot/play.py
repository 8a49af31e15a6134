"""Play a candidate's Policy through every scenario of a stage: one object per scenario in the
candidate's process, one `invoke` of `decide` per step for all the scenarios still running."""

from __future__ import annotations

import dataclasses
from typing import Sequence

from evaluators.candidate import Candidate
from evaluators.spot import lockstep, published_model
from sandboxes.wire import Records

SPEC_FIELDS = ("job_hours", "deadline_hours", "restart_overhead_hours", "tick_hours", "spot_price", "on_demand_price", "num_regions")


def play(candidate: Candidate, specs: Sequence, availability: Sequence, offsets: Sequence[int] | None = None) -> list:
    """Outcomes per scenario (evaluators.spot.simulator.Outcome) under our model; CandidateFailed propagates."""
    policies = _policies(candidate, specs)
    outcomes = lockstep.run(specs, availability, _decide(candidate, policies), offsets)
    candidate.drop(policies)
    return outcomes


def play_published(candidate: Candidate, specs: Sequence, scenarios: Sequence[published_model.Scenario]) -> list:
    """Outcomes per scenario (evaluators.spot.published_model.Outcome) under the published model."""
    policies = _policies(candidate, specs)
    outcomes = published_model.run(scenarios, _decide(candidate, policies))
    candidate.drop(policies)
    return outcomes


def _policies(candidate: Candidate, specs: Sequence):
    rows = [dataclasses.astuple(s) for s in specs]
    columns = {name: [row[k] for row in rows] for k, name in enumerate(SPEC_FIELDS)}
    return candidate.create("Policy", columns=[Records("JobSpec", columns)])


def _decide(candidate: Candidate, policies):
    def decide(active, observation: dict) -> list:
        return candidate.invoke(policies[active], "decide", columns=[Records("Observation", observation)])

    return decide
