"""Each island's MAP-Elites grid, rebuilt by replaying the lineage exactly as the run (and resume) did."""

from __future__ import annotations

from collections.abc import Sequence

from evolve.config import RunConfig
from evolve.html_report.values import Axis, Grids, IslandGrid
from evolve.lineage import Lineage, dimensions
from evolve.problem import Problem
from evolve.selection.grid import Grid
from evolve.selection.islands import Population
from evolve.store.records import CandidateRecord, entry_of


def island_grids(candidates: Sequence[CandidateRecord], problem: Problem | None, config: RunConfig) -> Grids:
    """Heat-map data for every island when the problem has two feature axes; otherwise a note why not."""
    if problem is None:
        return Grids((), "no MAP-Elites grid: the problem folder (which defines the feature axes) could not be read")
    dims = dimensions(problem)
    if len(dims) != 2:
        return Grids((), f"no MAP-Elites heat map: the problem has {len(dims)} feature axis/axes; a heat map needs two")
    lineage = Lineage(Population(config.islands, dims, config.archive_size), problem.objective.maximize, config.migration_interval)
    for candidate in sorted(candidates, key=lambda c: c.position if c.position is not None else c.iteration):
        lineage.apply(entry_of(candidate))
    x, y = (Axis(d.metric, d.low, d.high, d.bins) for d in dims)
    islands = tuple(_island(i, island.grid, x, y) for i, island in enumerate(lineage.population.islands))
    return Grids(islands, "")


def _island(index: int, grid: Grid, x: Axis, y: Axis) -> IslandGrid:
    scores: list[list[float | None]] = [[None] * x.bins for _ in range(y.bins)]
    ids: list[list[int | None]] = [[None] * x.bins for _ in range(y.bins)]
    for member in grid.members():
        col, row = grid.cell_of(member)
        scores[row][col], ids[row][col] = member.score, member.id
    return IslandGrid(index, x, y, tuple(map(tuple, scores)), tuple(map(tuple, ids)))
