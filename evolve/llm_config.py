"""The `[llm]` settings of a run, merged from the problem, a --config file and --model options.

Later layers win key by key; `--model` replaces the model list. `--model replay/FILE` takes the
ensemble from the cassette's header, so a replay needs nothing but the file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from evolve.errors import ConfigError
from evolve.proposers.llm.cassette import read_header
from evolve.proposers.llm.specs import LlmSettings, parse_model_arg

REPLAY_PREFIX = "replay/"


def read_config_file(path: Path) -> dict:
    """A TOML run config: `[run]` settings (RunConfig fields) and an `[llm]` table."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(data) - {"run", "llm"}
    if unknown:
        raise ConfigError(f"{path}: unknown table(s) {sorted(unknown)}; expected [run] and [llm]")
    return data


def build_llm(layers: list[dict], models: list[str], selection: str | None, base_url: str | None) -> LlmSettings | None:
    """None when no layer names a model (the run uses the offline mutator)."""
    merged: dict = {}
    for layer in layers:  # tables (prices, operators, retry) merge key by key; lists are replaced
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    replays = [m for m in models if m.startswith(REPLAY_PREFIX)]
    if replays:
        if len(models) > 1:
            raise ConfigError("--model replay/FILE replays a whole recorded run; give no other --model")
        return _replay_settings(Path(replays[0][len(REPLAY_PREFIX):]))
    if models:
        merged["models"] = [parse_model_arg(m) for m in models]
    if selection:
        merged["selection"] = selection
    if base_url:
        merged["models"] = [dict(m, base_url=base_url) if isinstance(m, dict) else m for m in merged.get("models", [])]
    if not merged.get("models"):
        if merged.get("replay"):
            return _replay_settings(Path(merged["replay"]))
        return None
    return _validate(merged)


def replay_run_settings(settings: LlmSettings | None) -> dict:
    """For a replay: the recorded run's seed, workers, islands... (explicit options still win)."""
    if settings is None or not settings.replay:
        return {}
    return dict(read_header(Path(settings.replay)).get("run") or {})


def _replay_settings(path: Path) -> LlmSettings:
    header = read_header(path)
    settings = dict(header.get("settings") or {})
    settings["replay"] = str(path.resolve())
    return _validate(settings, where=f"{path} header")


def _validate(data: dict, where: str = "[llm]") -> LlmSettings:
    try:
        return LlmSettings.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "llm"
        raise ConfigError(f"invalid {where} setting {field}: {error['msg']}") from None
