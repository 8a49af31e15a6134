"""The values an iteration is made of, passed between the controller and the scheduler."""

from __future__ import annotations

from dataclasses import dataclass

from evolve.proposers.base import Proposal
from evolve.selection.member import Member
from evolve.store.records import CandidateRecord, LineageEntry, ProposalRecord


@dataclass(frozen=True)
class Plan:
    """Everything decided for one iteration when it was planned, from the snapshot it could see:
    the population after the candidate at commit position `seen_upto`."""

    iteration: int
    island: int
    parent: Member
    inspirations: tuple[Member, ...]
    seen_upto: int
    threshold: float | None  # the best score then: a child beating it is also scored on the held-out stage
    failed: LineageEntry | None = None  # the island's latest failed child then, for the repair operator


@dataclass(frozen=True)
class Proposed:
    """A plan with the proposer's answer: a paid call, whether or not its child is ever committed."""

    plan: Plan
    parent: CandidateRecord  # the parent in full (code, evaluations), as the proposer saw it
    proposal: Proposal
    record: ProposalRecord

    @property
    def iteration(self) -> int:
        return self.plan.iteration


@dataclass(frozen=True)
class Finished:
    """A child ready to commit: its candidate record (no position yet) and the call that made it."""

    plan: Plan
    candidate: CandidateRecord
    record: ProposalRecord

    @property
    def iteration(self) -> int:
        return self.plan.iteration
