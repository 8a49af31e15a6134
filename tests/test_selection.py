"""Selection invariants: island isolation, grid replacement, archive bounds, sampling modes."""

from __future__ import annotations

import random

from evolve.selection.grid import Archive, Dimension, Grid
from evolve.selection.islands import Population
from evolve.selection.member import Member
from evolve.selection.sampling import SamplingPolicy, pick

DIMS = (Dimension("x", 0.0, 1.0, 4),)


def member(i: int, fitness: float, x: float = 0.5) -> Member:
    return Member(id=i, iteration=i, generation=1, fitness=fitness, score=fitness, features={"x": x})


def test_grid_keeps_the_better_per_cell():
    grid = Grid(DIMS)
    assert grid.place(member(1, 1.0, 0.1))
    assert not grid.place(member(2, 0.5, 0.12))  # same cell, worse
    assert not grid.place(member(3, 1.0, 0.13))  # tie keeps the incumbent
    assert grid.place(member(4, 2.0, 0.14))
    assert [m.id for m in grid.members()] == [4]
    assert grid.place(member(5, 0.1, 0.9))  # other cell
    assert len(grid) == 2 and grid.best().id == 4


def test_dimension_clips_out_of_range():
    dim = Dimension("x", 0.0, 1.0, 4)
    assert dim.bin_of(-5) == 0 and dim.bin_of(5) == 3 and dim.bin_of(0.5) == 2


def test_archive_is_bounded_and_sorted():
    archive = Archive(3)
    for i, f in enumerate([0.1, 0.9, 0.5, 0.7, 0.2, 0.95]):
        archive.offer(member(i, f))
    assert len(archive) == 3
    assert [m.fitness for m in archive.members()] == [0.95, 0.9, 0.7]
    assert not archive.offer(member(99, 0.0))


def test_islands_stay_isolated_between_migrations():
    pop = Population(3, DIMS, archive_size=9)
    pop.seed_all(member(0, 0.0))
    pop.add(member(1, 5.0, 0.9), island=1)
    pop.add(member(2, 3.0, 0.1), island=2)
    rng = random.Random(0)
    for _ in range(200):
        chosen = pick(pop.islands[0], SamplingPolicy(0.3, 0.3, 3), rng)
        assert chosen.parent.id == 0
        assert all(m.id == 0 for m in chosen.inspirations) or not chosen.inspirations
    ids_island1 = {m.id for m in pop.islands[1].grid.members()}
    assert 2 not in ids_island1
    moves = pop.migrate()
    assert (1, 1, 2) in moves  # island 1's best moved to island 2
    assert 1 in pop.islands[2].grid
    assert 2 in pop.islands[0].grid  # ring: island 2 -> island 0
    assert pop.best().id == 1


def test_sampling_uses_all_modes_and_prefers_fitter():
    pop = Population(1, DIMS, archive_size=4)
    pop.seed_all(member(0, 0.0, 0.1))
    pop.add(member(1, 10.0, 0.4), 0)
    pop.add(member(2, 1.0, 0.9), 0)
    rng = random.Random(1)
    picks = [pick(pop.islands[0], SamplingPolicy(0.2, 0.3, 2), rng) for _ in range(2000)]
    modes = {p.mode for p in picks}
    assert modes == {"explore", "exploit", "proportional"}
    counts = {i: sum(p.parent.id == i for p in picks) for i in (0, 1, 2)}
    assert counts[1] > counts[2] > 0 and counts[1] > counts[0]
    assert all(p.parent.id not in {m.id for m in p.inspirations} for p in picks)


def test_sampling_is_reproducible_from_seed():
    pop = Population(1, DIMS, archive_size=4)
    for i in range(6):
        pop.add(member(i, float(i), i / 6), 0)
    a = [pick(pop.islands[0], SamplingPolicy(), random.Random(f"s:{k}")).parent.id for k in range(50)]
    b = [pick(pop.islands[0], SamplingPolicy(), random.Random(f"s:{k}")).parent.id for k in range(50)]
    assert a == b
