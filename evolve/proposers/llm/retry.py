"""Retries with exponential backoff and full jitter, honouring Retry-After; every attempt recorded."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from evolve.errors import ProviderError
from evolve.proposers.llm.specs import RetryPolicy
from evolve.proposers.llm.wire import ChatReply


@dataclass(frozen=True)
class Attempt:
    """One try at a call: how it ended and how long we then waited before the next one."""

    outcome: str  # "ok" or a ProviderError kind
    seconds: float
    status: int | None = None
    detail: str = ""
    waited: float = 0.0
    retry_after: float | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass(frozen=True)
class CallResult:
    reply: ChatReply | None
    attempts: tuple[Attempt, ...]
    error: ProviderError | None = None


def backoff(policy: RetryPolicy, retry: int, rng: random.Random, asked: float | None) -> float:
    """Wait before retry number `retry` (1-based): jittered exponential, or longer if asked."""
    ceiling = min(policy.max_seconds, policy.base_seconds * 2 ** (retry - 1))
    wait = rng.uniform(0, ceiling)
    if asked is not None:
        wait = max(wait, min(asked, policy.max_retry_after_seconds))
    return wait


async def call_with_retries(
    call: Callable[[], Awaitable[ChatReply]],
    policy: RetryPolicy,
    rng: random.Random,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> CallResult:
    """Never raises ProviderError: the last error comes back in the result, with all attempts."""
    attempts: list[Attempt] = []
    for number in range(1, policy.max_attempts + 1):
        started = clock()
        try:
            reply = await call()
        except ProviderError as exc:
            elapsed = clock() - started
            last = number == policy.max_attempts or not exc.retryable
            wait = 0.0 if last else backoff(policy, number, rng, exc.retry_after)
            attempts.append(Attempt(exc.kind, elapsed, exc.status, str(exc)[:300], wait, exc.retry_after))
            if last:
                return CallResult(None, tuple(attempts), exc)
            await sleep(wait)
            continue
        attempts.append(Attempt("ok", clock() - started))
        return CallResult(reply, tuple(attempts))
    raise AssertionError("unreachable")  # pragma: no cover
