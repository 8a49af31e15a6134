"""Rebuilding a run's population from its store, for `evolve resume` (and a run's restart).

The stored candidates are folded into the lineage in commit order, exactly as the run folded them
when it committed them, and a learning proposer observes them again in the same order; plans the
order made at a given snapshot (the iterations in flight when the run stopped, in iteration order)
are made again at that snapshot. Only lineage entries are read (no code): at 100k candidates this
takes seconds, not minutes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from evolve.events import Resumed
from evolve.lineage import Lineage
from evolve.loop.orders import Order
from evolve.loop.plan import Plan
from evolve.proposal_records import feedback_of
from evolve.proposers.base import Feedback
from evolve.store import Store
from evolve.store.records import LineageEntry

FEEDBACK_TEXTS = 4096  # the latest candidates whose failure and summary text a proposer sees again


@dataclass
class Tally:
    """What the resumed run had done, for the live view."""

    statuses: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    improvements: int = 0
    seed_score: float | None = None
    record: float | None = None

    def add(self, entry: LineageEntry, lineage: Lineage) -> None:
        self.statuses[entry.status] += 1
        if entry.failure_reason:
            self.failures[entry.failure_reason] += 1
        if entry.position == 0:
            self.seed_score = entry.score
        if entry.status == "valid" and entry.score is not None and (self.record is None or lineage.fitness(entry.score) > self.record):
            self.improvements += entry.position > 0
            self.record = lineage.fitness(entry.score)

    def resumed(self, lineage: Lineage) -> Resumed:
        best = lineage.best
        islands = ((i.index, b.score) for i in lineage.population.islands if (b := i.best()) is not None)
        return Resumed(
            seed_score=self.seed_score, best_score=best.score if best else None,
            best_iteration=best.iteration if best else None, best_test_score=best.test_score if best else None,
            statuses=tuple(self.statuses.items()), failures=tuple(self.failures.items()),
            island_best=tuple(islands), improvements=self.improvements,
        )  # fmt: skip


def replay(
    store: Store,
    run_id: int,
    last_position: int,
    lineage: Lineage,
    order: Order,
    plan: Callable[[int], Plan],
    observe: Callable[[Feedback], None],
) -> tuple[list[Plan], Tally]:
    """Fold every stored candidate into `lineage`, feed `observe`, and return the plans the order
    made along the way (for iterations not committed yet) with a tally of the past."""
    calls = store.call_summaries(run_id)
    written = {v.iteration: v for v in store.prompt_variants(run_id)}
    texts = store.outcome_texts(run_id, max(0, last_position - FEEDBACK_TEXTS))
    plans, tally = [], Tally()
    for entry in store.lineage_entries(run_id):
        lineage.apply(entry)
        tally.add(entry, lineage)
        call = calls.get(entry.proposal_id) if entry.proposal_id is not None else None
        if call is not None:
            observe(feedback_of(entry, call, written.get(entry.iteration), *texts.get(entry.position, ("", ""))))
        plans.extend(plan(j) for j in order.due(entry.position, 0))
    return plans, tally
