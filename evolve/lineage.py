"""The population as rebuilt from lineage: apply committed candidates in iteration order.

Both a fresh run and `evolve resume` go through `apply`, so the population after iteration k is
the same whichever way it was reached. That is what makes resume exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evolve.problem import Problem
from evolve.selection.grid import Dimension
from evolve.selection.islands import Population
from evolve.selection.member import Member
from evolve.store.records import CandidateRecord

CODE_SIZE = "code_size"
DEFAULT_DIMS = (Dimension(CODE_SIZE, 0.0, 5000.0, 8),)


def dimensions(problem: Problem) -> tuple[Dimension, ...]:
    if not problem.features:
        return DEFAULT_DIMS
    return tuple(Dimension(f.metric, f.min, f.max, f.bins) for f in problem.features)


@dataclass
class Lineage:
    """Population plus the indexes the controller needs: duplicates, best, records by id."""

    population: Population
    maximize: bool
    migration_interval: int
    records: dict[int, CandidateRecord] = field(default_factory=dict)
    first_seen: dict[str, int] = field(default_factory=dict)  # code or normalized hash -> iteration
    best: CandidateRecord | None = None
    applied: int = -1
    last_failed: dict[int, CandidateRecord] = field(default_factory=dict)  # island -> latest failed child

    def fitness(self, score: float) -> float:
        return score if self.maximize else -score

    def is_better(self, candidate: CandidateRecord) -> bool:
        if candidate.status != "valid" or candidate.score is None:
            return False
        if self.best is None or self.best.score is None:
            return True
        return self.fitness(candidate.score) > self.fitness(self.best.score)

    def apply(self, candidate: CandidateRecord) -> list[tuple[int, int, int]]:
        """Fold one committed candidate in; returns the migrations this iteration triggered."""
        assert candidate.id is not None and candidate.iteration == self.applied + 1, "apply in iteration order"
        self.applied = candidate.iteration
        self.records[candidate.id] = candidate
        if candidate.code:
            for key in (candidate.code_hash, candidate.norm_hash):
                self.first_seen.setdefault(key, candidate.iteration)
        if self.is_better(candidate):
            self.best = candidate
        if candidate.status in ("failed", "invalid") and candidate.code:
            self.last_failed[candidate.island] = candidate
        if candidate.status == "valid" and candidate.score is not None:
            member = Member(
                id=candidate.id,
                iteration=candidate.iteration,
                generation=candidate.generation,
                fitness=self.fitness(candidate.score),
                score=candidate.score,
                features=dict(candidate.features),
            )
            if candidate.iteration == 0:
                self.population.seed_all(member)
            else:
                self.population.add(member, candidate.island)
        if candidate.iteration > 0 and candidate.iteration % self.migration_interval == 0:
            return self.population.migrate()
        return []

    def seen_by(self, code_hash: str, norm_hash: str, iteration: int) -> str | None:
        """'duplicate' or 'near_duplicate' if a candidate up to `iteration` had this code."""
        if self.first_seen.get(code_hash, iteration + 1) <= iteration:
            return "duplicate"
        if self.first_seen.get(norm_hash, iteration + 1) <= iteration:
            return "near_duplicate"
        return None
