"""Dollar and token budgets: a call runs only if its worst case still fits, so budgets never overrun."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from evolve.errors import BudgetExhausted

CHARS_PER_TOKEN = 3.0  # deliberately pessimistic for code (real tokenisers give ~3.5-4)


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


@dataclass(frozen=True)
class Reservation:
    cost_usd: float
    tokens: int


class Ledger:
    """Spend so far (including earlier sessions of the run) plus what calls in flight may spend."""

    def __init__(self, max_cost_usd: float | None, max_tokens: int | None, spent_usd: float = 0.0, spent_tokens: int = 0):
        self.max_cost_usd = max_cost_usd
        self.max_tokens = max_tokens
        self.spent_usd = spent_usd
        self.spent_tokens = spent_tokens
        self._held_usd = 0.0
        self._held_tokens = 0
        self._in_flight = 0  # counted, not inferred from the float sums (rounding never reaches 0)
        self._changed = asyncio.Condition()

    async def reserve(self, cost_usd: float, tokens: int) -> Reservation:
        """Hold a call's worst case. If it does not fit while other calls are in flight, wait for
        them to settle (they usually cost far less than their worst case); raise BudgetExhausted
        once it cannot fit even with nothing else held."""
        async with self._changed:
            while (refusal := self._refusal(cost_usd, tokens)) is not None:
                if self._in_flight == 0:
                    raise BudgetExhausted(refusal)
                await self._changed.wait()
            self._held_usd += cost_usd
            self._held_tokens += tokens
            self._in_flight += 1
            return Reservation(cost_usd, tokens)

    def _refusal(self, cost_usd: float, tokens: int) -> str | None:
        if self.max_cost_usd is not None and self.spent_usd + self._held_usd + cost_usd > self.max_cost_usd:
            return (
                f"cost budget reached: ${self.spent_usd:.4f} spent of ${self.max_cost_usd:.4f}; "
                f"the next call could cost up to ${cost_usd:.4f}"
            )
        if self.max_tokens is not None and self.spent_tokens + self._held_tokens + tokens > self.max_tokens:
            return (
                f"token budget reached: {self.spent_tokens} spent of {self.max_tokens}; "
                f"the next call could use up to {tokens}"
            )
        return None

    async def settle(self, reservation: Reservation, cost_usd: float, tokens: int) -> None:
        async with self._changed:
            self._in_flight -= 1
            self._held_usd = 0.0 if self._in_flight == 0 else self._held_usd - reservation.cost_usd
            self._held_tokens -= reservation.tokens
            self.spent_usd += cost_usd
            self.spent_tokens += tokens
            self._changed.notify_all()
