"""A member of the population: a valid, scored candidate as selection sees it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Member:
    """`fitness` is the objective oriented so that larger is always better."""

    id: int
    iteration: int
    generation: int
    fitness: float
    score: float
    features: dict[str, float] = field(default_factory=dict)
