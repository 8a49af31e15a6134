"""A run's stop: requested (Ctrl-C, a target reached, a watch alarm, a halt) or by the time budget.

Shared by the controller (which asks for stops) and the scheduler (which cancels in-flight work
when one comes); the first request wins, later ones are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Literal

StopState = Literal["stopped", "failed"]  # failed: the run cannot do its job (the reason says what to fix)
TIME_BUDGET = "time budget reached"


class Stop:
    def __init__(self, clock: Callable[[], float], max_seconds: float | None = None):
        self._event = asyncio.Event()
        self._clock = clock
        self._deadline = None if not max_seconds else clock() + max_seconds
        self.reason = ""
        self.state: StopState = "stopped"

    def request(self, reason: str, state: StopState = "stopped") -> None:
        if not self._event.is_set():
            self.reason, self.state = reason, state
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()

    def remaining(self) -> float | None:
        """Seconds left in the time budget (None: no budget)."""
        return None if self._deadline is None else max(0.0, self._deadline - self._clock())

    async def until(self, task: asyncio.Future) -> bool:
        """Wait for `task` unless a stop or the time budget comes first (then cancel it); True if it finished."""
        waiter = asyncio.ensure_future(self.wait())
        try:
            done, _ = await asyncio.wait([task, waiter], timeout=self.remaining(), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if task in done:
            task.result()  # re-raise what the task raised
            return True
        if not done:
            self.request(TIME_BUDGET)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
