"""Where the winner came from: its chain of ancestors from the seed, step by step."""

from __future__ import annotations

from collections.abc import Mapping

from evolve.html_report.values import AncestryStep
from evolve.store.records import CandidateRecord, ProposalRecord


def chain_to(candidate_id: int | None, by_id: Mapping[int, CandidateRecord]) -> tuple[CandidateRecord, ...]:
    """The ancestors of a candidate from the seed down to it (empty for None)."""
    chain: list[CandidateRecord] = []
    current = candidate_id
    while current is not None and current in by_id:
        chain.append(by_id[current])
        current = by_id[current].parent_id
    return tuple(reversed(chain))


def ancestry_steps(
    chain: tuple[CandidateRecord, ...], calls: Mapping[int, ProposalRecord], maximize: bool
) -> tuple[AncestryStep, ...]:
    """Each step with its score change over its parent and the diff that made it."""
    steps = []
    parent: CandidateRecord | None = None
    for c in chain:
        assert c.id is not None
        delta = c.score - parent.score if parent and c.score is not None and parent.score is not None else None
        call = calls.get(c.id)
        steps.append(
            AncestryStep(
                candidate_id=c.id,
                iteration=c.iteration,
                island=c.island,
                score=c.score,
                test_score=c.test_score,
                delta=delta,
                improved=delta is not None and (delta > 0 if maximize else delta < 0),
                summary=c.summary or ("seed" if parent is None else ""),
                operator=call.operator if call else "",
                model=call.model if call else "",
                diff=c.diff,
            )
        )
        parent = c
    return tuple(steps)
