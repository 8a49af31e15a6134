"""What the user says about models: `--model PROVIDER/MODEL[=WEIGHT]` or an `[llm]` table.

Only the *name* of the environment variable holding a key is ever part of a spec, so specs can be
stored with the run, printed and recorded in cassettes without leaking a secret.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ProviderKind = Literal["openai", "anthropic", "openai-compatible"]


class Preset(BaseModel):
    """How a provider prefix maps to an API: wire protocol, default base URL and key variable."""

    model_config = ConfigDict(frozen=True)

    kind: ProviderKind
    base_url: str | None = None
    key_env: str | None = None
    key_required: bool = True


PRESETS: dict[str, Preset] = {
    "openai": Preset(kind="openai", key_env="OPENAI_API_KEY"),
    "anthropic": Preset(kind="anthropic", key_env="ANTHROPIC_API_KEY"),
    "openrouter": Preset(kind="openai-compatible", base_url="https://openrouter.ai/api/v1", key_env="OPENROUTER_API_KEY"),
    "vllm": Preset(kind="openai-compatible", base_url="http://localhost:8000/v1", key_env="VLLM_API_KEY", key_required=False),
    "ollama": Preset(kind="openai-compatible", base_url="http://localhost:11434/v1", key_env="OLLAMA_API_KEY", key_required=False),
    "compatible": Preset(kind="openai-compatible", key_env="OPENAI_COMPATIBLE_API_KEY", key_required=False),
}


class ModelSpec(BaseModel):
    """One model of the ensemble. `name` is `provider/model`, e.g. `openai/gpt-5-mini`."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str = Field(description="provider/model; providers: " + ", ".join(PRESETS))
    weight: float = Field(default=1.0, gt=0, description="share of calls when selection is by weight")
    temperature: float | None = Field(default=None, ge=0, le=2, description="omitted from the call when unset")
    max_tokens: int = Field(default=8192, ge=16, le=1_000_000, description="output token cap per call")
    timeout_seconds: float = Field(default=180.0, gt=0, le=3600, description="hard limit per attempt")
    base_url: str | None = Field(default=None, description="API endpoint (OpenAI-compatible servers, proxies)")
    api_key_env: str | None = Field(default=None, description="environment variable holding the key")

    @model_validator(mode="after")
    def _known_provider(self) -> "ModelSpec":
        provider, _, model = self.name.partition("/")
        if not model:
            raise ValueError(f"model {self.name!r} must look like provider/model, e.g. openai/gpt-5-mini")
        if provider not in PRESETS:
            raise ValueError(f"model {self.name!r}: unknown provider {provider!r}; known: {', '.join(PRESETS)}")
        if provider == "compatible" and not self.base_url:
            raise ValueError(f"model {self.name!r} needs base_url (the server's /v1 address)")
        return self

    @property
    def provider(self) -> str:
        return self.name.partition("/")[0]

    @property
    def model(self) -> str:
        return self.name.partition("/")[2]

    @property
    def preset(self) -> Preset:
        return PRESETS[self.provider]

    @property
    def key_env(self) -> str | None:
        return self.api_key_env or self.preset.key_env

    @property
    def endpoint(self) -> str | None:
        return self.base_url or self.preset.base_url


class RetryPolicy(BaseModel):
    """Exponential backoff with full jitter; a server's Retry-After wins when it asks for longer."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    max_attempts: int = Field(default=5, ge=1, le=50)
    base_seconds: float = Field(default=1.0, ge=0, le=600)
    max_seconds: float = Field(default=60.0, ge=0, le=3600, description="cap on one backoff wait")
    max_retry_after_seconds: float = Field(default=300.0, ge=0, le=86_400, description="cap on a Retry-After wait")


class OperatorMix(BaseModel):
    """Relative weights of the mutation operators; unavailable ones (no second parent, nothing to
    repair) drop out and the rest are renormalised."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    diff: float = Field(default=0.6, ge=0)
    rewrite: float = Field(default=0.15, ge=0)
    crossover: float = Field(default=0.1, ge=0)
    repair: float = Field(default=0.15, ge=0)

    @model_validator(mode="after")
    def _some(self) -> "OperatorMix":
        if self.diff + self.rewrite + self.crossover <= 0:
            raise ValueError("at least one of diff, rewrite, crossover needs a positive weight")
        return self


class LlmSettings(BaseModel):
    """The `[llm]` table: the ensemble, how it picks, operators, retries and price overrides."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    models: tuple[ModelSpec, ...] = Field(min_length=1)
    selection: Literal["weights", "bandit"] = "weights"
    cost_weight: float = Field(default=0.5, ge=0, le=4, description="bandit: how hard dollars count against a model")
    operators: OperatorMix = OperatorMix()
    retry: RetryPolicy = RetryPolicy()
    prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="model -> (USD per 1M input tokens, USD per 1M output tokens)"
    )
    replay: str | None = Field(default=None, description="answer from this cassette instead of the network")
    prompt_evolution: bool = Field(
        default=False, description="evolve system-prompt guidance from the run's best and worst children; vary template wording"
    )
    prompt_population: int = Field(default=4, ge=2, le=16, description="prompt variants in play, the shipped one included")
    prompt_interval: int = Field(default=10, ge=1, le=10_000, description="iterations between two newly written variants")

    @model_validator(mode="after")
    def _prices_not_negative(self) -> "LlmSettings":
        for name, pair in self.prices.items():
            if min(pair) < 0:
                raise ValueError(f"price of {name} is negative: {list(pair)}")
        return self

    @model_validator(mode="after")
    def _unique(self) -> "LlmSettings":
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"a model is listed twice: {names}")
        return self


def parse_model_arg(text: str) -> dict:
    """`provider/model` or `provider/model=weight` -> a ModelSpec field dict (validated later)."""
    name, sep, weight = text.strip().rpartition("=")
    if not sep:
        return {"name": text.strip()}
    try:
        return {"name": name, "weight": float(weight)}
    except ValueError:
        return {"name": text.strip()}
