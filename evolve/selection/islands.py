"""Islands: isolated sub-populations (grid + archive each) joined by periodic ring migration."""

from __future__ import annotations

from evolve.selection.grid import Archive, Dimension, Grid
from evolve.selection.member import Member


class Island:
    def __init__(self, index: int, dims: tuple[Dimension, ...], archive_size: int):
        self.index = index
        self.grid = Grid(dims)
        self.archive = Archive(archive_size)

    def add(self, member: Member) -> bool:
        """Offer a member to this island; True if it entered the grid or the archive."""
        placed = self.grid.place(member)
        archived = self.archive.offer(member)
        return placed or archived

    def best(self) -> Member | None:
        return self.grid.best()


class Population:
    """All islands. Children only ever join the island they were proposed on; only `migrate` crosses."""

    def __init__(self, n_islands: int, dims: tuple[Dimension, ...], archive_size: int):
        per_island = max(1, archive_size // n_islands)
        self.islands = [Island(i, dims, per_island) for i in range(n_islands)]

    def add(self, member: Member, island: int) -> bool:
        return self.islands[island].add(member)

    def seed_all(self, member: Member) -> None:
        """The initial program starts every island."""
        for island in self.islands:
            island.add(member)

    def migrate(self) -> list[tuple[int, int, int]]:
        """Ring migration: each island's best is offered to the next. Returns (member, src, dst)."""
        if len(self.islands) < 2:
            return []
        bests = [island.best() for island in self.islands]
        moves = []
        for src, member in enumerate(bests):
            if member is None:
                continue
            dst = (src + 1) % len(self.islands)
            if self.islands[dst].add(member):
                moves.append((member.id, src, dst))
        return moves

    def best(self) -> Member | None:
        bests = [b for b in (island.best() for island in self.islands) if b is not None]
        return max(bests, key=lambda m: (m.fitness, -m.iteration), default=None)
