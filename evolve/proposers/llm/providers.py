"""OpenAI, OpenAI-compatible and Anthropic clients through the official async SDKs.

Imported only when a run uses live models: the two SDKs take seconds to import.

The SDKs' own retries are off (max_retries=0): our retry loop records every attempt and honours
Retry-After. Every SDK error is translated here into ProviderError, the seam's one error type.
"""

from __future__ import annotations

import asyncio
import os
import re

import anthropic
import openai

from evolve.errors import ProviderError
from evolve.proposers.llm.keys import api_key
from evolve.proposers.llm.specs import ModelSpec
from evolve.proposers.llm.wire import ChatClient, ChatReply, ChatRequest, http_error


def make_client(spec: ModelSpec, environ: dict[str, str] | None = None) -> ChatClient:
    key = api_key(spec, dict(os.environ) if environ is None else environ)
    if spec.preset.kind == "anthropic":
        return AnthropicClient(spec, key)
    return OpenAIClient(spec, key)


_KEY_LIKE = re.compile(r"\b(sk|key|pk)-[A-Za-z0-9_*\-]{6,}")


def redact(error: ProviderError, key: str) -> ProviderError:
    """Error text may quote the request or a masked key: keep neither in the store or cassette."""
    message = str(error).replace(key, "***") if key else str(error)
    message = _KEY_LIKE.sub(r"\1-***", message)
    return ProviderError(error.kind, message, error.retry_after, error.status)


def _translate(exc: BaseException, module) -> ProviderError:
    if isinstance(exc, module.APITimeoutError):
        return ProviderError("timeout", f"timed out: {exc}")
    if isinstance(exc, module.APIConnectionError):
        return ProviderError("connection", f"connection failed: {exc}")
    if isinstance(exc, module.APIStatusError):
        return http_error(exc.status_code, exc.response.headers, str(exc.message))
    return ProviderError("bad_response", f"unusable response: {type(exc).__name__}: {str(exc)[:200]}")


class _Client:
    """What both clients share: the key never leaves in an error message."""

    _key: str

    async def complete(self, request: ChatRequest) -> ChatReply:
        try:
            return await self._complete(request)
        except ProviderError as exc:
            raise redact(exc, self._key) from None

    async def _complete(self, request: ChatRequest) -> ChatReply:
        raise NotImplementedError


class OpenAIClient(_Client):
    """Chat completions; `openai/...` uses max_completion_tokens, compatible servers max_tokens."""

    def __init__(self, spec: ModelSpec, key: str):
        self._spec = spec
        self._key = key
        self._sdk = openai.AsyncOpenAI(
            api_key=key, base_url=spec.endpoint, timeout=spec.timeout_seconds, max_retries=0
        )

    async def _complete(self, request: ChatRequest) -> ChatReply:
        spec = self._spec
        limit_field = "max_completion_tokens" if spec.preset.kind == "openai" else "max_tokens"
        extra = {limit_field: spec.max_tokens}
        if spec.temperature is not None:
            extra["temperature"] = spec.temperature
        try:
            response = await asyncio.wait_for(
                self._sdk.chat.completions.create(
                    model=spec.model,
                    messages=[
                        {"role": "system", "content": request.system},
                        {"role": "user", "content": request.user},
                    ],
                    **extra,
                ),
                timeout=spec.timeout_seconds,
            )
        except asyncio.TimeoutError:
            raise ProviderError("timeout", f"no answer within {spec.timeout_seconds:g} s") from None
        except openai.OpenAIError as exc:
            raise _translate(exc, openai) from None
        except ValueError as exc:  # malformed JSON body
            raise ProviderError("bad_response", f"unusable response: {exc}") from None
        try:
            choice = response.choices[0]
            usage = response.usage
            return ChatReply(
                text=choice.message.content or "",
                tokens_in=int(usage.prompt_tokens) if usage else 0,
                tokens_out=int(usage.completion_tokens) if usage else 0,
                finish_reason=choice.finish_reason or "",
            )
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            raise ProviderError("bad_response", f"response has no choices/message: {exc}") from None

    async def aclose(self) -> None:
        await self._sdk.close()


class AnthropicClient(_Client):
    """Messages API; the text of every text block, in order."""

    def __init__(self, spec: ModelSpec, key: str):
        self._spec = spec
        self._key = key
        self._sdk = anthropic.AsyncAnthropic(
            api_key=key, base_url=spec.endpoint, timeout=spec.timeout_seconds, max_retries=0
        )

    async def _complete(self, request: ChatRequest) -> ChatReply:
        spec = self._spec
        # Newer SDKs dropped the temperature parameter; the API still takes it in the body.
        extra = {} if spec.temperature is None else {"extra_body": {"temperature": spec.temperature}}
        try:
            response = await asyncio.wait_for(
                self._sdk.messages.create(
                    model=spec.model,
                    system=request.system,
                    messages=[{"role": "user", "content": request.user}],
                    max_tokens=spec.max_tokens,
                    **extra,
                ),
                timeout=spec.timeout_seconds,
            )
        except asyncio.TimeoutError:
            raise ProviderError("timeout", f"no answer within {spec.timeout_seconds:g} s") from None
        except anthropic.AnthropicError as exc:
            raise _translate(exc, anthropic) from None
        except ValueError as exc:
            raise ProviderError("bad_response", f"unusable response: {exc}") from None
        try:
            text = "".join(block.text for block in response.content if getattr(block, "type", "") == "text")
            return ChatReply(
                text=text,
                tokens_in=int(response.usage.input_tokens),
                tokens_out=int(response.usage.output_tokens),
                finish_reason=response.stop_reason or "",
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise ProviderError("bad_response", f"response has no content/usage: {exc}") from None

    async def aclose(self) -> None:
        await self._sdk.close()
