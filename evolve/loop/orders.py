"""When iterations are planned, and in which order finished ones are committed.

A plan is made from the population as it is at that moment, so what a run does depends on these
two choices. Three orders:

- IterationOrder (deterministic): iteration j is planned right after the commit at position
  j - lag, and finished iterations commit in iteration order. With a deterministic proposer (the
  offline mutator) and a fixed seed the lineage depends only on the seed and the lag (--workers).
- CompletionOrder (throughput): an iteration is planned when there is room for another proposer
  call, and a finished iteration commits at once. Every plan records the commit position it saw
  (`seen_upto`), and every commit is recorded, so a replay can follow it.
- RecordedOrder (replay): follows a recorded run's commits: each iteration is planned at the
  snapshot it saw then, and commits happen in the recorded order, so a replay from a cassette
  reproduces the lineage whatever order its own work finishes in.

An order only sees iteration numbers and commit positions, never plans or candidates.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable
from typing import Protocol

from evolve.config import RunConfig


class Order(Protocol):
    def due(self, applied: int, room: int) -> list[int]:
        """Iterations to plan now, the population being as it is after commit position `applied`;
        `room`: how many more proposer calls the scheduler would start now."""

    def next_commit(self, finished: Collection[int]) -> int | None:
        """The finished iteration to commit now, or None to wait."""

    def committed(self, iteration: int) -> None: ...

    def done(self) -> bool:
        """Every iteration of the run is committed."""


class _Todo:
    """The iterations not yet committed, and those of them not yet planned (both smallest first)."""

    def __init__(self, todo: Iterable[int]):
        self.left = set(todo)
        self._unplanned = sorted(self.left)  # heaps: a sorted list is one
        self._lowest = list(self._unplanned)

    def plan_upto(self, last: int) -> list[int]:
        out = []
        while self._unplanned and self._unplanned[0] <= last:
            out.append(heapq.heappop(self._unplanned))
        return out

    def plan_next(self, count: int) -> list[int]:
        return [heapq.heappop(self._unplanned) for _ in range(min(count, len(self._unplanned)))]

    def lowest(self) -> int | None:
        """The smallest iteration not yet committed."""
        while self._lowest and self._lowest[0] not in self.left:
            heapq.heappop(self._lowest)
        return self._lowest[0] if self._lowest else None


class IterationOrder:
    def __init__(self, todo: Iterable[int], lag: int):
        self._todo, self._lag = _Todo(todo), lag

    def due(self, applied: int, room: int) -> list[int]:
        return self._todo.plan_upto(applied + self._lag)

    def next_commit(self, finished: Collection[int]) -> int | None:
        first = self._todo.lowest()
        return first if first in finished else None

    def committed(self, iteration: int) -> None:
        self._todo.left.discard(iteration)

    def done(self) -> bool:
        return not self._todo.left


class CompletionOrder:
    def __init__(self, todo: Iterable[int]):
        self._todo = _Todo(todo)

    def due(self, applied: int, room: int) -> list[int]:
        return self._todo.plan_next(room)

    def next_commit(self, finished: Collection[int]) -> int | None:
        return min(finished, default=None)

    def committed(self, iteration: int) -> None:
        self._todo.left.discard(iteration)

    def done(self) -> bool:
        return not self._todo.left


class RecordedOrder:
    """`schedule`: the recorded commits in order, as (iteration, seen_upto of its plan). Iterations
    the recording never committed come after, in completion order (a replay then stops at the
    first call the cassette does not hold)."""

    def __init__(self, todo: Iterable[int], schedule: list[tuple[int, int]]):
        self._left = set(todo)
        self._commits = [i for i, _ in schedule if i in self._left]  # in the recorded order
        self._by_snapshot = sorted((seen, i) for i, seen in schedule if i in self._left)
        self._planned = 0  # how many of _by_snapshot are planned
        self._next = 0  # how many of _commits are committed
        self._rest = CompletionOrder(self._left - set(self._commits))

    def _recorded_left(self) -> bool:
        return self._next < len(self._commits)

    def due(self, applied: int, room: int) -> list[int]:
        if not self._recorded_left():
            return self._rest.due(applied, room)
        start = self._planned
        while self._planned < len(self._by_snapshot) and self._by_snapshot[self._planned][0] <= applied:
            self._planned += 1
        return sorted(i for _, i in self._by_snapshot[start : self._planned])

    def next_commit(self, finished: Collection[int]) -> int | None:
        if not self._recorded_left():
            return self._rest.next_commit(finished)
        iteration = self._commits[self._next]
        return iteration if iteration in finished else None

    def committed(self, iteration: int) -> None:
        self._left.discard(iteration)
        if self._recorded_left() and iteration == self._commits[self._next]:
            self._next += 1
        else:
            self._rest.committed(iteration)

    def done(self) -> bool:
        return not self._left


def make_order(config: RunConfig, todo: set[int], schedule: list[tuple[int, int]] | None) -> Order:
    """The run's order: a recorded schedule when replaying one, else the configured order."""
    if schedule is not None:
        return RecordedOrder(todo, schedule)
    if config.commit_order() == "completion":
        return CompletionOrder(todo)
    return IterationOrder(todo, lag=config.workers)
