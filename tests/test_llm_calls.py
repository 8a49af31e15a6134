"""LLM calls through the real openai and anthropic SDKs against the fake server: replies, faults, retries."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time

import pytest
from fakellm import Fault, FakeLLM, Hang, Malformed, Reply

from evolve.errors import ConfigError, ProviderError
from evolve.proposers.llm.keys import api_key
from evolve.proposers.llm.providers import make_client
from evolve.proposers.llm.retry import call_with_retries
from evolve.proposers.llm.specs import ModelSpec, RetryPolicy
from evolve.proposers.llm.wire import ChatRequest, retry_after

FAST = RetryPolicy(max_attempts=4, base_seconds=0.01, max_seconds=0.05)
ENV = {"OPENAI_API_KEY": "sk-test-openai", "ANTHROPIC_API_KEY": "sk-ant-test"}


def spec(server: FakeLLM, provider: str, model: str = "m", **extra) -> ModelSpec:
    url = server.anthropic_url if provider == "anthropic" else server.openai_url
    return ModelSpec(name=f"{provider}/{model}", base_url=url, timeout_seconds=extra.pop("timeout", 5.0), **extra)


def scripted(*actions):
    """A responder that plays `actions` in order, then repeats the last one."""
    queue = itertools.chain(actions, itertools.repeat(actions[-1]))
    return lambda call: next(queue)


async def complete(model: ModelSpec, policy: RetryPolicy = FAST):
    client = make_client(model, ENV)
    try:
        return await call_with_retries(lambda: client.complete(ChatRequest("sys", "hello")), policy, random.Random(1))
    finally:
        await client.aclose()


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_reply_comes_back_with_its_tokens_and_the_key_in_the_right_header(provider):
    with FakeLLM(scripted(Reply("the answer", tokens_in=11, tokens_out=7))) as server:
        result = asyncio.run(complete(spec(server, provider, temperature=0.3, max_tokens=123)))
    assert result.reply.text == "the answer"
    assert (result.reply.tokens_in, result.reply.tokens_out) == (11, 7)
    assert [a.outcome for a in result.attempts] == ["ok"]
    [call] = server.calls
    assert (call.system, call.user, call.body["temperature"]) == ("sys", "hello", 0.3)
    if provider == "openai":
        assert call.headers["authorization"] == "Bearer sk-test-openai"
        assert call.body["max_completion_tokens"] == 123
    else:
        assert "sk-ant-test" in (call.headers.get("x-api-key"), call.headers.get("authorization", "").removeprefix("Bearer "))
        assert call.body["max_tokens"] == 123


def test_compatible_servers_get_max_tokens_and_no_temperature_unless_set():
    with FakeLLM(scripted(Reply("ok"))) as server:
        model = ModelSpec(name="vllm/qwen", base_url=server.openai_url)
        asyncio.run(complete(model))
    [call] = server.calls
    assert call.body["max_tokens"] == model.max_tokens and "temperature" not in call.body
    assert call.headers["authorization"] == "Bearer not-needed"  # local servers need no key


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_429_waits_as_long_as_retry_after_says_and_every_attempt_is_recorded(provider):
    actions = (Fault(429, {"retry-after": "1"}), Fault(500), Reply("fine"))
    with FakeLLM(scripted(*actions)) as server:
        started = time.monotonic()
        result = asyncio.run(complete(spec(server, provider)))
        elapsed = time.monotonic() - started
    assert result.reply.text == "fine"
    assert [a.outcome for a in result.attempts] == ["rate_limited", "server_error", "ok"]
    assert result.attempts[0].status == 429 and result.attempts[0].retry_after == 1.0
    assert result.attempts[0].waited >= 1.0 and elapsed >= 1.0
    assert result.attempts[1].status == 500 and result.attempts[1].waited <= FAST.base_seconds * 2
    assert len(server.calls) == 3


def test_a_hang_past_the_timeout_is_cut_and_retried():
    with FakeLLM(scripted(Hang(30), Reply("after the hang"))) as server:
        started = time.monotonic()
        result = asyncio.run(complete(spec(server, "openai", timeout=0.5)))
        elapsed = time.monotonic() - started
    assert result.reply.text == "after the hang"
    assert [a.outcome for a in result.attempts] == ["timeout", "ok"]
    assert elapsed < 10


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_malformed_json_is_a_retryable_bad_response(provider):
    with FakeLLM(scripted(Malformed(), Reply("good"))) as server:
        result = asyncio.run(complete(spec(server, provider)))
    assert [a.outcome for a in result.attempts] == ["bad_response", "ok"]


def test_auth_errors_are_not_retried_and_the_last_error_is_returned():
    with FakeLLM(scripted(Fault(401, message="bad key"))) as server:
        result = asyncio.run(complete(spec(server, "openai")))
    assert result.reply is None and result.error.kind == "auth" and not result.error.retryable
    assert len(server.calls) == 1


def test_attempts_stop_at_the_policy_limit():
    with FakeLLM(scripted(Fault(503))) as server:
        result = asyncio.run(complete(spec(server, "anthropic")))
    assert result.error.kind == "server_error"
    assert len(result.attempts) == FAST.max_attempts == len(server.calls)
    assert result.attempts[-1].waited == 0.0


def test_connection_refused_is_a_connection_error():
    model = ModelSpec(name="openai/m", base_url="http://127.0.0.1:9/v1", timeout_seconds=2)
    result = asyncio.run(complete(model, RetryPolicy(max_attempts=2, base_seconds=0.01)))
    assert [a.outcome for a in result.attempts] == ["connection", "connection"]


def test_retry_after_parses_seconds_milliseconds_and_dates():
    assert retry_after({"Retry-After": "7"}) == 7.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0) == 10.0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


def test_a_missing_key_is_a_config_error_naming_the_variable():
    with pytest.raises(ConfigError, match=r"\$ANTHROPIC_API_KEY"):
        api_key(ModelSpec(name="anthropic/claude-x"), {})
    with pytest.raises(ConfigError, match=r"\$MY_KEY"):
        api_key(ModelSpec(name="openai/gpt-x", api_key_env="MY_KEY"), {"OPENAI_API_KEY": "k"})
    assert api_key(ModelSpec(name="openai/gpt-x", api_key_env="MY_KEY"), {"MY_KEY": "k2"}) == "k2"


def test_provider_errors_say_whether_to_retry():
    assert ProviderError("rate_limited", "x").retryable
    assert not ProviderError("bad_request", "x").retryable


def test_error_text_never_carries_the_key():
    leak = f"Incorrect API key provided: {ENV['OPENAI_API_KEY']}; also sk-proj-****abcd"
    with FakeLLM(scripted(Fault(401, message=leak))) as server:
        result = asyncio.run(complete(spec(server, "openai")))
    text = str(result.error) + json.dumps([a.to_json() for a in result.attempts])
    assert "Incorrect API key provided" in text
    assert ENV["OPENAI_API_KEY"] not in text and "abcd" not in text
