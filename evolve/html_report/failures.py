"""Where evaluations failed: candidates that did not pass, by reason, over iterations."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from evolve.html_report.values import FailureTimeline, ReasonCount, ReasonSeries
from evolve.store.records import CandidateRecord

MAX_BINS = 40


def failure_timeline(candidates: Sequence[CandidateRecord], max_bins: int = MAX_BINS) -> FailureTimeline:
    """Every non-valid candidate counted under its reason (its status when it has none)."""
    last = max((c.iteration for c in candidates), default=0)
    width = max(1, math.ceil((last + 1) / max_bins))
    starts = tuple(range(0, last + 1, width))
    failed = [c for c in candidates if c.status != "valid"]
    per_bin: dict[str, Counter] = {}
    for c in failed:
        per_bin.setdefault(reason_of(c), Counter())[c.iteration // width] += 1
    totals = _totals(failed)
    series = tuple(
        ReasonSeries(t.reason, tuple(per_bin[t.reason].get(k, 0) for k in range(len(starts)))) for t in totals
    )
    return FailureTimeline(bin_width=width, bin_starts=starts, series=series, totals=totals)


def reason_of(candidate: CandidateRecord) -> str:
    return candidate.failure_reason or candidate.status


def _totals(failed: Sequence[CandidateRecord]) -> tuple[ReasonCount, ...]:
    groups: dict[str, list[CandidateRecord]] = {}
    for c in sorted(failed, key=lambda r: r.iteration):
        groups.setdefault(reason_of(c), []).append(c)
    totals = [
        ReasonCount(
            reason=reason,
            status=members[-1].status,
            count=len(members),
            first_iteration=members[0].iteration,
            last_iteration=members[-1].iteration,
            latest_candidate_id=members[-1].id or 0,
        )
        for reason, members in groups.items()
    ]
    return tuple(sorted(totals, key=lambda t: (-t.count, t.reason)))
