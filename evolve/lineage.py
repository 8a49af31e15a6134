"""The population as rebuilt from lineage: fold committed candidates in, in commit order.

Both a fresh run and `evolve resume` go through `apply`, so the population after commit position
k is the same whichever way it was reached. That is what makes resume exact. The lineage keeps
entries (ids, scores, features), never code: duplicates are looked up in the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evolve.problem import Problem
from evolve.selection.grid import Dimension
from evolve.selection.islands import Population
from evolve.selection.member import Member
from evolve.store.records import LineageEntry

CODE_SIZE = "code_size"
DEFAULT_DIMS = (Dimension(CODE_SIZE, 0.0, 5000.0, 8),)


def dimensions(problem: Problem) -> tuple[Dimension, ...]:
    if not problem.features:
        return DEFAULT_DIMS
    return tuple(Dimension(f.metric, f.min, f.max, f.bins) for f in problem.features)


@dataclass
class Lineage:
    """Population plus what the controller needs of the past: the best, each island's latest failure."""

    population: Population
    maximize: bool
    migration_interval: int
    best: LineageEntry | None = None
    applied: int = -1  # the commit position of the last candidate folded in
    last_failed: dict[int, LineageEntry] = field(default_factory=dict)  # island -> latest failed child

    def fitness(self, score: float) -> float:
        return score if self.maximize else -score

    def is_better(self, candidate) -> bool:
        """Whether a candidate (record or entry) is valid and beats the best so far."""
        if candidate.status != "valid" or candidate.score is None:
            return False
        if self.best is None or self.best.score is None:
            return True
        return self.fitness(candidate.score) > self.fitness(self.best.score)

    def apply(self, entry: LineageEntry) -> list[tuple[int, int, int]]:
        """Fold one committed candidate in; returns the migrations this commit triggered."""
        assert entry.position == self.applied + 1, "apply in commit order"
        self.applied = entry.position
        if self.is_better(entry):
            self.best = entry
        if entry.status in ("failed", "invalid") and entry.has_code:
            self.last_failed[entry.island] = entry
        if entry.status == "valid" and entry.score is not None:
            member = Member(entry.id, entry.iteration, entry.generation, self.fitness(entry.score), entry.score, entry.features)
            if entry.iteration == 0:
                self.population.seed_all(member)
            else:
                self.population.add(member, entry.island)
        if entry.position > 0 and entry.position % self.migration_interval == 0:
            return self.population.migrate()
        return []
