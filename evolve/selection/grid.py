"""A MAP-Elites grid over feature dimensions, and a bounded elite archive."""

from __future__ import annotations

from dataclasses import dataclass

from evolve.selection.member import Member


@dataclass(frozen=True)
class Dimension:
    metric: str
    low: float
    high: float
    bins: int

    def bin_of(self, value: float) -> int:
        if self.high <= self.low:
            return 0
        fraction = (value - self.low) / (self.high - self.low)
        return min(self.bins - 1, max(0, int(fraction * self.bins)))


Cell = tuple[int, ...]


class Grid:
    """One elite per cell: a newcomer takes a cell only if it is strictly fitter (ties keep the incumbent)."""

    def __init__(self, dims: tuple[Dimension, ...]):
        self.dims = dims
        self._cells: dict[Cell, Member] = {}

    def cell_of(self, member: Member) -> Cell:
        return tuple(d.bin_of(member.features.get(d.metric, d.low)) for d in self.dims)

    def place(self, member: Member) -> bool:
        cell = self.cell_of(member)
        incumbent = self._cells.get(cell)
        if incumbent is not None and (incumbent.id == member.id or incumbent.fitness >= member.fitness):
            return False
        self._cells[cell] = member
        return True

    def members(self) -> list[Member]:
        """Elites in a stable order (by cell), so sampling is reproducible."""
        return [self._cells[c] for c in sorted(self._cells)]

    def best(self) -> Member | None:
        return max(self._cells.values(), key=_rank_key, default=None)

    def __contains__(self, member_id: int) -> bool:
        return any(m.id == member_id for m in self._cells.values())

    def __len__(self) -> int:
        return len(self._cells)


class Archive:
    """The `capacity` fittest distinct members seen, best first."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._members: list[Member] = []

    def offer(self, member: Member) -> bool:
        if any(m.id == member.id for m in self._members):
            return False
        self._members.append(member)
        self._members.sort(key=_rank_key, reverse=True)
        kept = member in self._members[: self.capacity]
        del self._members[self.capacity :]
        return kept

    def members(self) -> list[Member]:
        return list(self._members)

    def __len__(self) -> int:
        return len(self._members)


def _rank_key(member: Member) -> tuple[float, int]:
    """Fitter first; among equals, the earlier iteration (so the seed wins ties against clones)."""
    return (member.fitness, -member.iteration)
