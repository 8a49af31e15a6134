"""Watching committed iterations for a run that cannot do its job, so it stops or says so.

Two patterns, both judged in commit order (so a replay sees the same): a proposer whose every
call fails (a wrong endpoint, key or model name looks like a run of rejected candidates, not like
an error), and a proposer that proposes almost nothing new (the offline mutator on a seed with
little to perturb). The first stops the run with what to fix; the second is a warning, once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from evolve.store.records import CandidateRecord, ProposalRecord
from evolve.terminal import last_line

DUPLICATE_WINDOW = 20
DUPLICATE_SHARE = 0.9


@dataclass(frozen=True)
class Alarm:
    """stop: the run cannot go on (state "failed"); else a warning for the user."""

    text: str
    stop: bool


@dataclass
class Watch:
    max_failed_calls: int
    failed_calls: int = 0
    duplicates: deque = field(default_factory=lambda: deque(maxlen=DUPLICATE_WINDOW))
    warned: bool = False

    def observe(self, candidate: CandidateRecord, proposal: ProposalRecord) -> Alarm | None:
        self.failed_calls = self.failed_calls + 1 if _call_failed(candidate, proposal) else 0
        if self.failed_calls >= self.max_failed_calls:
            error = last_line(candidate.failure_detail or proposal.error or "")
            return Alarm(
                f"the proposer's calls failed in {self.failed_calls} iterations in a row ({candidate.failure_reason}: {error}); "
                "check the model name, --base-url and the API key (or the provider's status), then start again",
                stop=True,
            )
        self.duplicates.append(candidate.status == "duplicate")
        if not self.warned and len(self.duplicates) == DUPLICATE_WINDOW and sum(self.duplicates) >= DUPLICATE_SHARE * DUPLICATE_WINDOW:
            self.warned = True
            return Alarm(
                f"{sum(self.duplicates)} of the last {DUPLICATE_WINDOW} proposals repeated earlier code: the proposer finds "
                "little new to try (the offline mutator only changes numbers and operators inside EVOLVE-BLOCKs: give the "
                "blocks constants to tune, or use an LLM with --model)",
                stop=False,
            )
        return None


def _call_failed(candidate: CandidateRecord, proposal: ProposalRecord) -> bool:
    """The proposer produced nothing at all: the call itself failed (no answer to judge)."""
    reason = candidate.failure_reason or ""
    return candidate.status == "rejected" and (reason.startswith("llm_") or reason == "proposer_error") and not proposal.response
