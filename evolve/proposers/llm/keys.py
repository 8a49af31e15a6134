"""API keys come from environment variables named by the model spec, and go nowhere but the SDK."""

from __future__ import annotations

from evolve.errors import ConfigError
from evolve.proposers.llm.specs import ModelSpec

PLACEHOLDER_KEY = "not-needed"  # local OpenAI-compatible servers accept any key


def api_key(spec: ModelSpec, environ: dict[str, str]) -> str:
    """The key from the environment; a clear ConfigError when a provider needs one and it's missing."""
    name = spec.key_env
    value = environ.get(name, "") if name else ""
    if value:
        return value
    if spec.preset.key_required:
        raise ConfigError(f"model {spec.name} needs an API key in ${name} (or set api_key_env for that model)")
    return PLACEHOLDER_KEY
