"""The scheduler apart from the evolution: scripted steps whose calls and evaluations wait on
events the test sets, so every ordering below is forced, not timed.

What it must guarantee: a slow call holds no evaluation and blocks no other commit (completion
order); iteration order commits in order whatever finishes first; never more calls in flight than
the call pool allows; a budget halt (RunHalted) commits earlier iterations, drops later ones and
keeps the calls already paid for.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass

from evolve.errors import BudgetExhausted
from evolve.loop.orders import CompletionOrder, IterationOrder
from evolve.loop.scheduler import Scheduler
from evolve.loop.stopping import Stop


@dataclass(frozen=True)
class Step:
    iteration: int


class ScriptedSteps:
    """Calls and evaluations wait for their iteration's gate (open unless the test closed it)."""

    def __init__(self, halt_at: int | None = None):
        self.call_gates: dict[int, asyncio.Event] = defaultdict(self._open)
        self.eval_gates: dict[int, asyncio.Event] = defaultdict(self._open)
        self.applied = 0
        self.commits: list[int] = []
        self.uncommitted: list[int] = []
        self.calls_now = self.calls_most = 0
        self.evaluated: list[int] = []
        self.halt_at = halt_at
        self.halted = False

    @staticmethod
    def _open() -> asyncio.Event:
        gate = asyncio.Event()
        gate.set()
        return gate

    def close(self, gates: dict[int, asyncio.Event], iteration: int) -> asyncio.Event:
        gates[iteration] = asyncio.Event()
        return gates[iteration]

    def plan(self, iteration: int) -> Step:
        return Step(iteration)

    async def propose(self, plan: Step) -> Step:
        if self.halt_at is not None and plan.iteration == self.halt_at:
            self.halted = True
            raise BudgetExhausted("cost budget reached")
        self.calls_now += 1
        self.calls_most = max(self.calls_most, self.calls_now)
        try:
            for _ in range(3):  # give the other calls their turn: overlap is what is counted
                await asyncio.sleep(0)
            await self.call_gates[plan.iteration].wait()
        finally:
            self.calls_now -= 1
        return plan

    async def evaluate(self, proposed: Step) -> Step:
        await self.eval_gates[proposed.iteration].wait()
        self.evaluated.append(proposed.iteration)
        return proposed

    def commit(self, finished: Step) -> None:
        self.applied += 1
        self.commits.append(finished.iteration)
        if self.commits == [2, 3, 4, 5, 6] and not self.call_gates[1].is_set():
            self.call_gates[1].set()  # the slow call answers only once every other iteration is in

    def keep_uncommitted(self, paid: list[Step]) -> None:
        self.uncommitted = [p.iteration for p in paid]


def drive(steps: ScriptedSteps, order, calls: int, slots: int) -> Scheduler:
    async def go() -> Scheduler:
        scheduler = Scheduler(steps, order, Stop(time.monotonic), calls=calls, slots=slots)
        await asyncio.wait_for(scheduler.run(), 30)
        return scheduler

    return asyncio.run(go())


def test_completion_order_commits_around_a_slow_call():
    async def go():
        steps = ScriptedSteps()
        steps.close(steps.call_gates, 1)  # opened by the commit of iterations 2..6
        scheduler = Scheduler(steps, CompletionOrder(range(1, 7)), Stop(time.monotonic), calls=16, slots=2)
        await asyncio.wait_for(scheduler.run(), 30)
        return steps, scheduler

    steps, scheduler = asyncio.run(go())
    assert scheduler.complete and steps.commits == [2, 3, 4, 5, 6, 1]


def test_iteration_order_commits_in_order_whatever_finishes_first():
    async def go():
        steps = ScriptedSteps()
        gate = steps.close(steps.eval_gates, 1)
        scheduler = Scheduler(steps, IterationOrder(range(1, 5), lag=3), Stop(time.monotonic), calls=16, slots=3)
        run = asyncio.ensure_future(scheduler.run())
        while 3 not in steps.evaluated:  # iterations 2 and 3 are evaluated while 1 is not
            await asyncio.sleep(0.01)
        assert steps.commits == []
        gate.set()
        await asyncio.wait_for(run, 30)
        return steps

    assert asyncio.run(go()).commits == [1, 2, 3, 4]


def test_calls_in_flight_never_exceed_the_call_pool():
    steps = ScriptedSteps()
    scheduler = drive(steps, CompletionOrder(range(1, 41)), calls=3, slots=8)
    assert scheduler.complete and sorted(steps.commits) == list(range(1, 41))
    assert steps.calls_most == 3


def test_a_budget_halt_commits_earlier_iterations_drops_later_ones_and_keeps_paid_calls():
    async def go():
        steps = ScriptedSteps(halt_at=3)
        later = steps.close(steps.call_gates, 4)  # a call already being paid for when the halt comes
        scheduler = Scheduler(steps, CompletionOrder(range(1, 9)), Stop(time.monotonic), calls=4, slots=2)
        run = asyncio.ensure_future(scheduler.run())
        while not steps.halted:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the scheduler takes the refusal in
        later.set()
        await asyncio.wait_for(run, 30)
        return steps, scheduler

    steps, scheduler = asyncio.run(go())
    assert not scheduler.complete and "budget" in scheduler.stop.reason
    assert sorted(steps.commits) == [1, 2]
    assert 4 in steps.uncommitted  # paid, not committed, on the books
