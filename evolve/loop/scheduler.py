"""In-flight work: proposer calls and evaluations as two pools, commits in the order's order.

The controller decides what an iteration is (its plan from the population, its child, its
commit); the scheduler decides when. It plans what the order says is due, runs at most `calls`
proposer calls at once, hands each answer to an evaluation (the executor runs `slots` of those at
a time; a slow call never holds an evaluation slot), keeps about one ready child per slot waiting
so no slot idles, and commits finished iterations as the order allows (a slow evaluation holds
back only what the order makes wait for it).

When the proposer refuses an iteration (a budget: RunHalted), earlier iterations still finish and
commit, later ones are dropped; a later call already being paid for finishes and is kept, as an
uncommitted call, never lost. The scheduler never looks inside a plan: `Steps` is its whole view
of the evolution, which is what lets tests drive it with fake steps.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from evolve.errors import RunHalted
from evolve.loop.orders import Order
from evolve.loop.plan import Finished, Plan, Proposed
from evolve.loop.stopping import TIME_BUDGET, Stop


class Steps(Protocol):
    """One iteration's stages, as the controller implements them."""

    @property
    def applied(self) -> int:
        """The commit position of the population now (the seed is 0)."""

    def plan(self, iteration: int) -> Plan: ...

    async def propose(self, plan: Plan) -> Proposed:
        """The proposer's answer (a failed call is an answer too); RunHalted if it refused to call."""

    async def evaluate(self, proposed: Proposed) -> Finished: ...

    def commit(self, finished: Finished) -> None: ...

    def keep_uncommitted(self, paid: list[Proposed]) -> None:
        """Calls paid for iterations that will not be committed (a stop, a halt)."""


class Scheduler:
    def __init__(self, steps: Steps, order: Order, stop: Stop, *, calls: int, slots: int):
        self.steps, self.order, self.stop = steps, order, stop
        self._calls, self._slots = calls, slots
        self._call_slots = asyncio.Semaphore(calls)
        self._proposing: dict[int, asyncio.Task] = {}  # waiting for a call slot, or in the call
        self._in_call: set[int] = set()  # inside a proposer call right now: being paid for
        self._evaluating: dict[int, asyncio.Task] = {}
        self._finished: dict[int, Finished] = {}
        self._paid: dict[int, Proposed] = {}  # answers whose iteration is not committed yet
        self._halt_at: int | None = None
        self._halt_reason = ""
        self._dropped: list[asyncio.Task] = []

    @property
    def complete(self) -> bool:
        return self.order.done()

    def start(self, plans: list[Plan]) -> None:
        """Plans made before the loop runs (while resume replayed the lineage)."""
        for plan in plans:
            self._launch(plan)

    async def run(self) -> None:
        self._plan_due()
        waiter = asyncio.ensure_future(self.stop.wait())
        try:
            while (self._proposing or self._evaluating) and not self.stop.is_set():
                tasks = [*self._proposing.values(), *self._evaluating.values(), waiter]
                done, _ = await asyncio.wait(tasks, timeout=self.stop.remaining(), return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    self.stop.request(TIME_BUDGET)
                    break
                self._collect()
                self._commit_ready()
                self._plan_due()
                if self._halt_at is not None:
                    self._drop_after_halt()
                    if self._halt_done():
                        self.stop.request(self._halt_reason)
        finally:
            waiter.cancel()
            await self._wind_down()

    # planning and launching -----------------------------------------------------------------

    def _room(self) -> int:
        """More calls to start now: while call slots are free, keeping at most one ready child per
        evaluation slot beyond the running ones (more would only make plans staler)."""
        return max(0, min(self._calls - len(self._proposing), 2 * self._slots - len(self._evaluating)))

    def _plan_due(self) -> None:
        if self._halt_at is not None or self.stop.is_set():
            return
        for iteration in self.order.due(self.steps.applied, self._room()):
            self._launch(self.steps.plan(iteration))

    def _launch(self, plan: Plan) -> None:
        self._proposing[plan.iteration] = asyncio.ensure_future(self._propose(plan))

    async def _propose(self, plan: Plan) -> Proposed | None:
        """The answer, or None: the proposer refused (it halts the run)."""
        async with self._call_slots:
            self._in_call.add(plan.iteration)
            try:
                return await self.steps.propose(plan)
            except RunHalted as exc:
                self._halt_reason = self._halt_reason or str(exc)
                return None
            finally:
                self._in_call.discard(plan.iteration)

    # completions ------------------------------------------------------------------------------

    def _collect(self) -> None:
        for iteration in [i for i, t in self._proposing.items() if t.done()]:
            proposed = self._proposing.pop(iteration).result()
            if proposed is None:
                self._halt(iteration)
                continue
            self._paid[iteration] = proposed
            if self._halt_at is not None and iteration > self._halt_at:
                continue  # a halt came while this call ran: keep the call, skip the evaluation
            self._evaluating[iteration] = asyncio.ensure_future(self.steps.evaluate(proposed))
        for iteration in [i for i, t in self._evaluating.items() if t.done()]:
            finished = self._evaluating.pop(iteration).result()
            if self._halt_at is None or iteration < self._halt_at:
                self._finished[iteration] = finished

    def _commit_ready(self) -> None:
        while not self.stop.is_set() and (iteration := self.order.next_commit(self._finished)) is not None:
            finished = self._finished.pop(iteration)
            self.steps.commit(finished)
            self._paid.pop(iteration, None)
            self.order.committed(iteration)
            self._plan_due()  # right after each commit: a plan due now sees exactly this snapshot

    # halts and the end --------------------------------------------------------------------------

    def _halt(self, iteration: int) -> None:
        """The proposer refused `iteration`: earlier iterations finish and commit, later ones are dropped."""
        self._halt_at = iteration if self._halt_at is None else min(self._halt_at, iteration)
        for later in [i for i in self._finished if i > self._halt_at]:
            del self._finished[later]

    def _drop_after_halt(self) -> None:
        """Cancel later iterations, except those inside a proposer call: a call being paid for
        finishes, so its cost is stored (as an uncommitted call) rather than lost."""
        for tasks in (self._proposing, self._evaluating):
            for later in [i for i in tasks if i > self._halt_at and i not in self._in_call]:
                self._dropped.append(tasks.pop(later))
                self._dropped[-1].cancel()

    def _halt_done(self) -> bool:
        """Nothing before the halt is left in flight, and no later call is still being paid."""
        before = (*self._proposing, *self._evaluating, *self._finished)
        return not any(i < self._halt_at for i in before) and not any(i > self._halt_at for i in self._proposing)

    async def _wind_down(self) -> None:
        """Cancel what is in flight and wait for it; keep the calls paid for uncommitted iterations."""
        tasks = [*self._proposing.values(), *self._evaluating.values()]
        for task in tasks:
            task.cancel()
        for task in [*tasks, *self._dropped]:
            with contextlib.suppress(BaseException):
                await task
        for task in self._proposing.values():  # a call that finished just before it was cancelled
            if task.done() and not task.cancelled() and task.exception() is None and task.result() is not None:
                self._paid.setdefault(task.result().iteration, task.result())
        paid, self._paid = sorted(self._paid.items()), {}
        self.steps.keep_uncommitted([p for _, p in paid])
