"""Which model answers the next call: by weight, or by a cost-aware UCB bandit.

The bandit learns from `Feedback` (did the child improve on its parent, what did the call cost).
It only uses feedback from iterations the controller had committed when it planned the call
(`seen_upto`), so a run's model choices depend on its seed and lineage, not on timing, and
resume rebuilds the same state from the stored lineage.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from evolve.proposers.base import Feedback
from evolve.proposers.llm.specs import ModelSpec

MIN_PULLS = 2  # every model is tried this often before the bandit trusts its estimate
EXPLORE = 1.0
COST_RANGE = (0.25, 4.0)  # relative cost is clipped: free or unpriced models must not win by default


@dataclass
class ArmStats:
    pulls: int = 0
    reward: float = 0.0
    cost_usd: float = 0.0
    unpriced: bool = False


class ModelChooser:
    def __init__(self, models: tuple[ModelSpec, ...], strategy: str, cost_weight: float):
        self.models = models
        self.strategy = strategy
        self.cost_weight = cost_weight
        self._feedback: dict[int, Feedback] = {}

    def observe(self, feedback: Feedback) -> None:
        if feedback.model in {m.name for m in self.models}:
            self._feedback[feedback.iteration] = feedback

    def choose(self, rng: random.Random, seen_upto: int) -> ModelSpec:
        if self.strategy == "weights" or len(self.models) == 1:
            return self._by_weight(self.models, rng)
        stats = self.stats(seen_upto)
        untried = [m for m in self.models if stats[m.name].pulls < MIN_PULLS]
        if untried:
            return self._by_weight(tuple(untried), rng)
        total = sum(s.pulls for s in stats.values())
        priced = [s for s in stats.values() if not s.unpriced]
        mean_cost = sum(s.cost_usd / s.pulls for s in priced) / len(priced) if priced else 0.0
        scored = [(self._index(stats[m.name], total, mean_cost), rng.random(), m) for m in self.models]
        return max(scored, key=lambda t: (t[0], t[1]))[2]

    def stats(self, seen_upto: int) -> dict[str, ArmStats]:
        """Per-model pulls, summed normalised reward and dollars from feedback up to `seen_upto`."""
        stats = {m.name: ArmStats() for m in self.models}
        seen = [f for i, f in sorted(self._feedback.items()) if i <= seen_upto]
        scale = max((f.improvement for f in seen if f.improvement and f.improvement > 0), default=0.0)
        for f in seen:
            arm = stats[f.model]
            arm.pulls += 1
            arm.cost_usd += f.cost_usd
            arm.unpriced |= not f.priced
            if scale > 0 and f.improvement and f.improvement > 0:
                arm.reward += min(1.0, f.improvement / scale)
        return stats

    def _index(self, arm: ArmStats, total: int, mean_cost: float) -> float:
        ucb = arm.reward / arm.pulls + EXPLORE * math.sqrt(2 * math.log(total) / arm.pulls)
        if mean_cost <= 0 or self.cost_weight == 0 or arm.unpriced:
            return ucb  # unknown dollars count as average, not as free
        low, high = COST_RANGE
        relative = min(max(arm.cost_usd / arm.pulls / mean_cost, low), high)
        return ucb / relative**self.cost_weight

    @staticmethod
    def _by_weight(models: tuple[ModelSpec, ...], rng: random.Random) -> ModelSpec:
        return rng.choices(models, weights=[m.weight for m in models], k=1)[0]
