"""Every candidate in full, linked to the call that proposed it and to its children."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evolve.html_report.values import CandidateDetail
from evolve.store.records import CandidateRecord, ProposalRecord


def candidate_details(
    candidates: Sequence[CandidateRecord], calls: Mapping[int, ProposalRecord]
) -> tuple[CandidateDetail, ...]:
    """`calls` maps a candidate id to the call that produced it (the seed has none)."""
    children: dict[int, list[int]] = {}
    for c in candidates:
        if c.parent_id is not None and c.id is not None:
            children.setdefault(c.parent_id, []).append(c.id)
    return tuple(
        CandidateDetail(c, calls.get(c.id) if c.id is not None else None, tuple(children.get(c.id or -1, ())))
        for c in candidates
    )
