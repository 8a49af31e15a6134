"""Candidates as a list (`evolve candidates RUN`) and why they failed (`evolve status RUN`).

Plain data from the store's code-free summaries; the CLI filters, prints or dumps JSON.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass

from evolve.store import RunInfo, Store
from evolve.store.records import CandidateSummary
from evolve.terminal import last_line


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    reason: str | None = None
    island: int | None = None

    def keep(self, c: CandidateSummary) -> bool:
        return (
            (self.status is None or c.status == self.status)
            and (self.reason is None or c.failure_reason == self.reason)
            and (self.island is None or c.island == self.island)
        )


@dataclass(frozen=True)
class Row:
    iteration: int
    island: int
    status: str
    reason: str | None
    score: float | None
    test_score: float | None
    detail: str  # the failure in one line (evolve show RUN ITERATION has all of it)
    summary: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FailureKind:
    """Failures that read alike (numbers aside), with how many and the latest example."""

    reason: str
    detail: str
    count: int
    example_iteration: int

    def to_json(self) -> dict:
        return asdict(self)


def candidate_rows(store: Store, run: RunInfo, filters: Filters) -> list[Row]:
    return [
        Row(c.iteration, c.island, c.status, c.failure_reason, c.score, c.test_score, _one_line(c.failure_detail), c.summary)
        for c in store.candidate_summaries(run.id)
        if filters.keep(c)
    ]


def top_failures(store: Store, run: RunInfo, limit: int = 5) -> list[FailureKind]:
    """The commonest kinds among the latest failures (evolve.store.reporting.RECENT_FAILURES of
    them: what goes wrong now, at a cost that does not grow with the run), each with its latest example."""
    counts: Counter = Counter()
    latest: dict[tuple[str, str], tuple[int, str]] = {}
    for c in reversed(store.recent_failures(run.id)):
        detail = _one_line(c.failure_detail)
        key = (c.failure_reason, re.sub(r"\d+(\.\d+)?", "#", detail))
        counts[key] += 1
        latest[key] = (c.iteration, detail)
    return [FailureKind(reason, latest[(reason, shape)][1], n, latest[(reason, shape)][0]) for (reason, shape), n in counts.most_common(limit)]


def _one_line(detail: str) -> str:
    return last_line(detail)[:160] if detail else ""
