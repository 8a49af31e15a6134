"""What a txn_scheduling candidate receives: the workload and an incremental cost helper.

The candidate gets copies of the transactions and helpers built on the cost model; the evaluator
scores the returned order with its own private copy (evaluators.txn.evaluator), so nothing a
candidate does to these objects can change its score.
"""

from __future__ import annotations

from typing import Sequence

from evaluators.txn.cost import IDLE, Compiled, place, start_time


class Schedule:
    """An order being built: append transactions, ask what appending one would cost."""

    def __init__(self, compiled: Compiled):
        self._c = compiled
        self._w = [0] * compiled.num_keys
        self._r = [0] * compiled.num_keys
        self._placed = [False] * len(compiled.lengths)
        self.order: list[int] = []
        self.makespan = 0

    def _check(self, j: int) -> None:
        if j.__class__ is not int or not 0 <= j < len(self._placed):
            raise ValueError(f"transaction index {j!r} out of range")
        if self._placed[j]:
            raise ValueError(f"transaction {j} is already scheduled")

    def start_if_added(self, j: int) -> int:
        """When transaction j would start if appended now."""
        self._check(j)
        return start_time(self._c, j, self._w, self._r)

    def peek(self, j: int) -> int:
        """The makespan if transaction j were appended now (the schedule is not changed)."""
        end = self.start_if_added(j) + self._c.lengths[j]
        return end if end > self.makespan else self.makespan

    def append(self, j: int) -> int:
        """Append transaction j; returns the new makespan."""
        self._check(j)
        end = place(self._c, j, self._w, self._r)
        self._placed[j] = True
        self.order.append(j)
        if end > self.makespan:
            self.makespan = end
        return self.makespan

    def copy(self) -> "Schedule":
        other = Schedule.__new__(Schedule)
        other._c, other._w, other._r = self._c, self._w[:], self._r[:]
        other._placed, other.order, other.makespan = self._placed[:], self.order[:], self.makespan
        return other


class Workload:
    """One workload as the candidate sees it.

    txns: tuple of transactions, each a tuple of steps: ("r" or "w", key) with int keys, or
    ("*", None) for an idle step. lengths: time units per transaction. num_txns, num_keys.
    seed: an int for the candidate's own random.Random, so its result is deterministic.
    cost_model: "per_step" or "strict_2pl" (evaluators.txn.cost). source: the workload in the
    published JSON format (what ADRS's programs read).
    """

    def __init__(self, txns, num_keys: int, seed: int, cost_model: str = "per_step", source: str = ""):
        self.txns = tuple(tuple(("*", None) if k == IDLE else ("w" if w else "r", k) for w, k in t) for t in txns)
        self.num_txns = len(self.txns)
        self.num_keys = num_keys
        self.seed = seed
        self.cost_model = cost_model
        self.source = source
        self._c = Compiled(txns, num_keys, cost_model)
        self.lengths = self._c.lengths

    def new_schedule(self) -> Schedule:
        return Schedule(self._c)

    def makespan(self, order: Sequence[int]) -> int:
        """Makespan of a full or partial order of distinct transaction indices."""
        schedule = Schedule(self._c)
        for j in order:
            schedule.append(j)
        return schedule.makespan
