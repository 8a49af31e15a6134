"""The one-verb seam every LLM client implements, and the values that cross it."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Mapping, Protocol

from evolve.errors import ProviderError


@dataclass(frozen=True)
class ChatRequest:
    """A system prompt plus one user message; the same shape works for every provider."""

    system: str
    user: str


@dataclass(frozen=True)
class ChatReply:
    text: str
    tokens_in: int
    tokens_out: int
    finish_reason: str = ""


class ChatClient(Protocol):
    """One model behind one endpoint. Raises ProviderError, nothing else."""

    async def complete(self, request: ChatRequest) -> ChatReply: ...

    async def aclose(self) -> None: ...


def status_kind(status: int) -> str:
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"
    if status in (408, 409) or status >= 500:
        return "server_error"
    return "bad_request"


def retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds a server asked us to wait: `retry-after-ms`, `retry-after` seconds or HTTP date."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def http_error(status: int, headers: Mapping[str, str] | None, message: str) -> ProviderError:
    return ProviderError(status_kind(status), f"HTTP {status}: {message[:300]}", retry_after(headers), status)
