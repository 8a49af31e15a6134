"""Drive many sequential simulations in lockstep, one batched call to the candidate per step.

A per-request policy (a router, a placement priority) is called once per event, and each answer
changes what the next event sees, so one scenario cannot be batched with itself. Scenarios are
independent, though: write the simulator as a generator that yields the arguments of its next
call and receives the answer, and `run` advances every scenario by one call per round trip.

    def simulate(workload):          # a generator
        ...
        answer = yield (request, state)   # the arguments of one call
        ...
        return result

    results = run([simulate(w) for w in workloads], ask)

`ask(indices, calls)` makes one batched call for the scenarios at `indices`, with one argument
tuple each, and returns one answer each, or a Pending (Candidate.start_invoke / start_map) whose
`.result()` gives them. With a Pending, the scenarios are split in two halves that take turns:
while the candidate answers one half, this side advances the other, so the two processes work at
the same time. Each half only ever sends a step after the other half's previous step was
answered, so no call reveals a later step of any scenario.
"""

from __future__ import annotations

from typing import Callable, Generator, Sequence

Ask = Callable[[list[int], list[tuple]], object]


def run(simulations: Sequence[Generator], ask: Ask, stop: Callable[[object], bool] = lambda result: False) -> list:
    """Every simulation's return value, in order. `stop(result)` True for a finished simulation
    ends the others early (they are closed and their result is None): e.g. an invalid answer
    that already decides the stage."""
    run = _Run(simulations, stop)
    halves = (list(range(0, len(simulations), 2)), list(range(1, len(simulations), 2)))
    flight = run.send(ask, halves[0])
    if flight is not None and not hasattr(flight[1], "result"):  # plain answers: no overlap to be had
        return run.sequential(ask, flight)
    turn = 0
    while flight is not None:
        indices, pending = flight
        answers = pending.result()
        flight = run.send(ask, halves[1 - turn])  # the candidate starts on the other half ...
        run.advance(indices, answers)  # ... while this side works on this one
        if run.stopped:
            if flight is not None:
                flight[1].result()  # one call is always answered before the next is sent
            break
        if flight is None:
            flight = run.send(ask, halves[turn])
        else:
            turn = 1 - turn
    return run.results


class _Run:
    def __init__(self, simulations: Sequence[Generator], stop: Callable[[object], bool]):
        self.simulations, self.stop = simulations, stop
        self.results: list = [None] * len(simulations)
        self.pending: dict[int, tuple] = {}
        self.stopped = False
        for i in range(len(simulations)):
            self._step(i, None, first=True)

    def send(self, ask: Ask, half: list[int]) -> tuple[list[int], object] | None:
        indices = [i for i in half if i in self.pending]
        return (indices, ask(indices, [self.pending[i] for i in indices])) if indices else None

    def sequential(self, ask: Ask, flight: tuple[list[int], object]) -> list:
        indices, answers = flight
        while True:
            self.advance(indices, answers)
            if self.stopped or not self.pending:
                return self.results
            indices = list(self.pending)
            answers = ask(indices, [self.pending[i] for i in indices])

    def advance(self, indices: list[int], answers: Sequence[object]) -> None:
        for i, answer in zip(indices, answers):
            if self._step(i, answer) and self.stop(self.results[i]):
                for j in list(self.pending):
                    self.simulations[j].close()
                    del self.pending[j]
                self.stopped = True
                return

    def _step(self, i: int, answer: object, first: bool = False) -> bool:
        """Send the answer; True when the simulation finished (its result stored)."""
        try:
            self.pending[i] = next(self.simulations[i]) if first else self.simulations[i].send(answer)
            return False
        except StopIteration as done:
            self.pending.pop(i, None)
            self.results[i] = done.value
            return True


def columns(calls: list[tuple], kinds: Sequence[str]) -> list:
    """Per-call argument tuples of field dicts -> one Records column per argument position."""
    import numpy as np

    from sandboxes.wire import Records

    out = []
    for position, kind in enumerate(kinds):
        rows = [call[position] for call in calls]
        fields = {}
        for name in rows[0]:
            values = [row[name] for row in rows]
            same_shape = isinstance(values[0], np.ndarray) and all(isinstance(v, np.ndarray) and v.shape == values[0].shape for v in values)
            fields[name] = np.array(values) if same_shape else values  # one array, not one per call
        out.append(Records(kind, fields))
    return out
