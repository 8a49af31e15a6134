"""Parent and inspiration sampling for one island: exploration, exploitation, fitness-proportional."""

from __future__ import annotations

import random
from dataclasses import dataclass

from evolve.selection.islands import Island
from evolve.selection.member import Member


@dataclass(frozen=True)
class SamplingPolicy:
    exploration_ratio: float = 0.2
    exploitation_ratio: float = 0.3
    inspirations: int = 3


@dataclass(frozen=True)
class Pick:
    parent: Member
    inspirations: tuple[Member, ...]
    mode: str  # explore | exploit | proportional


def pick(island: Island, policy: SamplingPolicy, rng: random.Random) -> Pick:
    parent, mode = _parent(island, policy, rng)
    return Pick(parent=parent, inspirations=_inspirations(island, parent, policy.inspirations, rng), mode=mode)


def _parent(island: Island, policy: SamplingPolicy, rng: random.Random) -> tuple[Member, str]:
    elites = island.grid.members()
    if not elites:
        raise ValueError(f"island {island.index} is empty")
    draw = rng.random()
    if draw < policy.exploration_ratio:
        return rng.choice(elites), "explore"
    archive = island.archive.members()
    if draw < policy.exploration_ratio + policy.exploitation_ratio and archive:
        return rng.choice(archive), "exploit"
    return _proportional(elites, rng), "proportional"


def _proportional(members: list[Member], rng: random.Random) -> Member:
    """Fitness-proportional over shifted fitness, so negative objectives work too."""
    low = min(m.fitness for m in members)
    spread = max(m.fitness for m in members) - low
    floor = 0.1 * spread if spread > 0 else 1.0
    weights = [m.fitness - low + floor for m in members]
    return rng.choices(members, weights=weights, k=1)[0]


def _inspirations(island: Island, parent: Member, count: int, rng: random.Random) -> tuple[Member, ...]:
    """Top of the island's archive, plus one elite from a different grid cell for diversity."""
    if count <= 0:
        return ()
    chosen: list[Member] = []
    top = [m for m in island.archive.members() if m.id != parent.id]
    chosen.extend(top[: max(1, count - 1)])
    parent_cell = island.grid.cell_of(parent)
    diverse = [
        m for m in island.grid.members() if m.id != parent.id and island.grid.cell_of(m) != parent_cell and m not in chosen
    ]
    if diverse and len(chosen) < count:
        chosen.append(rng.choice(diverse))
    return tuple(chosen[:count])
