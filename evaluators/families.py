"""Stages built from scenario families, as llm_routing and vm_packing build theirs.

Each stage holds `per_shape` workloads of every chosen family, the k-th of a family generated from
(seed, stage, k * len(all families) + the family's index), so train and test draw from disjoint
seed streams (test is held out) and choosing fewer families leaves the others' workloads as they
were. Smoke is the small stage: fewer workloads, each scaled down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Protocol, Sequence, TypeVar

STAGES: tuple[str, ...] = ("smoke", "train", "test")


class Family(Protocol):
    name: str


F = TypeVar("F", bound=Family)
W = TypeVar("W")


@dataclass(frozen=True)
class FamilyStages(Generic[F]):
    """Which families, how many workloads of each per stage, at what scale."""

    known: tuple[F, ...]  # every family of the problem, in its fixed order
    chosen: tuple[F, ...]
    seed: int
    counts: dict[str, int]
    scales: dict[str, float]

    @classmethod
    def of(cls, known: Sequence[F], names: Sequence[str] | None, seed: int, *, counts: tuple[int, int, int],
           scales: tuple[float, float, float]) -> "FamilyStages[F]":  # fmt: skip
        """`names` None or empty: every family. counts and scales are (smoke, train, test)."""
        by_name = {f.name: f for f in known}
        chosen = tuple(names) if names else tuple(by_name)
        unknown = [n for n in chosen if n not in by_name]
        if unknown:
            raise ValueError(f"unknown scenario families {unknown}; known: {sorted(by_name)}")
        return cls(tuple(known), tuple(by_name[n] for n in chosen), int(seed),
                   dict(zip(STAGES, map(int, counts))), dict(zip(STAGES, map(float, scales))))  # fmt: skip

    def workloads(self, stage: str, generate: Callable[[F, int, str, int, float], W]) -> list[W]:
        """The stage's workloads: generate(family, seed, stage, index, scale) for each."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; stages are {STAGES}")
        n = len(self.known)
        return [
            generate(family, self.seed, stage, k * n + self.known.index(family), self.scales[stage])
            for family in self.chosen
            for k in range(self.counts[stage])
        ]
