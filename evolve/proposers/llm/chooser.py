"""Which model answers the next call (by weight, or by a cost-aware UCB bandit), and the bandit
itself, which prompt evolution also uses to pick among system-prompt variants.

The bandit learns from `Feedback` (did the child improve on its parent, what did the call cost).
It only uses feedback from candidates the controller had committed when it planned the call
(commit positions up to `seen_upto`), so a run's choices depend on its seed and lineage, not on timing, and resume
rebuilds the same state from the stored lineage.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evolve.proposers.base import Feedback
from evolve.proposers.llm.specs import ModelSpec

MIN_PULLS = 2  # every arm is tried this often before the bandit trusts its estimate
EXPLORE = 1.0
COST_RANGE = (0.25, 4.0)  # relative cost is clipped: free or unpriced arms must not win by default


@dataclass(frozen=True)
class Arm:
    name: str
    weight: float = 1.0  # share of the picks while arms are still untried


@dataclass
class ArmStats:
    pulls: int = 0
    reward: float = 0.0
    cost_usd: float = 0.0
    unpriced: bool = False

    @property
    def mean(self) -> float:
        return self.reward / self.pulls if self.pulls else 0.0


class Bandit:
    """UCB over named arms. Reward: the child's improvement over its parent, scaled by the largest
    improvement seen; with `cost_weight`, divided by the arm's relative dollars per call.

    Feedback arrives in commit order; each arm keeps running totals by commit position, so the
    statistics as of any snapshot cost a binary search, not a pass over the run's history. (The
    scale is the largest improvement seen, so no single reward exceeds 1 and an arm's summed reward
    is its summed improvement divided by the scale.)
    """

    def __init__(self, cost_weight: float, arm_of: Callable[[Feedback], str]):
        self.cost_weight = cost_weight
        self._arm_of = arm_of  # "" for feedback that is about no arm of this bandit
        self._totals: dict[str, list[tuple[int, int, float, float, bool]]] = {}  # arm -> (position, pulls, gain, dollars, unpriced)
        self._scale: list[tuple[int, float]] = []  # (position, largest improvement so far), when it grew

    def observe(self, feedback: Feedback) -> None:
        arm = self._arm_of(feedback)
        if not arm:
            return
        history = self._totals.setdefault(arm, [])
        _, pulls, gain, dollars, unpriced = history[-1] if history else (0, 0, 0.0, 0.0, False)
        improvement = feedback.improvement if feedback.improvement and feedback.improvement > 0 else 0.0
        history.append((feedback.position, pulls + 1, gain + improvement, dollars + feedback.cost_usd, unpriced or not feedback.priced))
        if improvement > (self._scale[-1][1] if self._scale else 0.0):
            self._scale.append((feedback.position, improvement))

    def stats(self, names: Sequence[str], seen_upto: int) -> dict[str, ArmStats]:
        """Per arm: pulls, summed normalised reward and dollars from feedback up to `seen_upto`."""
        grew = bisect.bisect_right(self._scale, (seen_upto, math.inf))
        scale = self._scale[grew - 1][1] if grew else 0.0
        stats = {}
        for name in names:
            history = self._totals.get(name, [])
            k = bisect.bisect_right(history, (seen_upto, math.inf))
            if not k:
                stats[name] = ArmStats()
                continue
            _, pulls, gain, dollars, unpriced = history[k - 1]
            stats[name] = ArmStats(pulls, gain / scale if scale > 0 else 0.0, dollars, unpriced)
        return stats

    def choose(self, arms: Sequence[Arm], rng: random.Random, seen_upto: int) -> Arm:
        """An untried arm (by weight) while there is one, else the best UCB index."""
        stats = self.stats([a.name for a in arms], seen_upto)
        untried = [a for a in arms if stats[a.name].pulls < MIN_PULLS]
        if untried:
            return by_weight(untried, rng)
        total = sum(s.pulls for s in stats.values())
        priced = [s for s in stats.values() if not s.unpriced]
        mean_cost = sum(s.cost_usd / s.pulls for s in priced) / len(priced) if priced else 0.0
        scored = [(self._index(stats[a.name], total, mean_cost), rng.random(), a) for a in arms]
        return max(scored, key=lambda t: (t[0], t[1]))[2]

    def _index(self, arm: ArmStats, total: int, mean_cost: float) -> float:
        ucb = arm.mean + EXPLORE * math.sqrt(2 * math.log(total) / arm.pulls)
        if mean_cost <= 0 or self.cost_weight == 0 or arm.unpriced:
            return ucb  # unknown dollars count as average, not as free
        low, high = COST_RANGE
        relative = min(max(arm.cost_usd / arm.pulls / mean_cost, low), high)
        return ucb / relative**self.cost_weight


def by_weight(arms: Sequence, rng: random.Random):
    """One of `arms` (anything with a `weight`) drawn in proportion to its weight."""
    return rng.choices(list(arms), weights=[a.weight for a in arms], k=1)[0]


class ModelChooser:
    """The ensemble's pick per call: by weight, or the bandit over models."""

    def __init__(self, models: tuple[ModelSpec, ...], strategy: str, cost_weight: float):
        self.models = models
        self.strategy = strategy
        names = {m.name for m in models}
        self._bandit = Bandit(cost_weight, lambda f: f.model if f.model in names else "")

    def observe(self, feedback: Feedback) -> None:
        self._bandit.observe(feedback)

    def choose(self, rng: random.Random, seen_upto: int) -> ModelSpec:
        if self.strategy == "weights" or len(self.models) == 1:
            return by_weight(self.models, rng)
        arm = self._bandit.choose([Arm(m.name, m.weight) for m in self.models], rng, seen_upto)
        return next(m for m in self.models if m.name == arm.name)

    def stats(self, seen_upto: int) -> dict[str, ArmStats]:
        return self._bandit.stats([m.name for m in self.models], seen_upto)
