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

`ask(indices, calls)` makes one batched call (e.g. Candidate.invoke or Candidate.map) for the
scenarios at `indices`, with one argument tuple each, and returns one answer each.
"""

from __future__ import annotations

from typing import Callable, Generator, Sequence

Ask = Callable[[list[int], list[tuple]], Sequence[object]]


def run(simulations: Sequence[Generator], ask: Ask, stop: Callable[[object], bool] = lambda result: False) -> list:
    """Every simulation's return value, in order. `stop(result)` True for a finished simulation
    ends the others early (they are closed and their result is None): e.g. an invalid answer
    that already decides the stage."""
    results: list = [None] * len(simulations)
    pending: dict[int, tuple] = {}
    for i, simulation in enumerate(simulations):
        _advance(simulation, i, None, pending, results, first=True)
    while pending:
        indices = list(pending)
        answers = ask(indices, [pending[i] for i in indices])
        for i, answer in zip(indices, answers):
            if _advance(simulations[i], i, answer, pending, results) and stop(results[i]):
                for j in list(pending):
                    simulations[j].close()
                    del pending[j]
                break
    return results


def _advance(simulation: Generator, i: int, answer: object, pending: dict, results: list, first: bool = False) -> bool:
    """Send the answer; True when the simulation finished (its result stored)."""
    try:
        pending[i] = next(simulation) if first else simulation.send(answer)
        return False
    except StopIteration as done:
        pending.pop(i, None)
        results[i] = done.value
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
            fields[name] = np.stack(values) if same_shape else values  # one array, not one per call
        out.append(Records(kind, fields))
    return out
