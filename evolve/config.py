"""Run configuration: one frozen model, built once at the edge (CLI) and stored with the run."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evolve.errors import ConfigError
from evolve.proposers.llm.specs import LlmSettings

from sandboxes.base import Limits

SandboxName = Literal["auto", "docker", "bwrap", "process"]
CommitOrder = Literal["iteration", "completion"]
MAX_WORKERS = 256


def default_workers() -> int:
    """One evaluation per core (a trusted worker and its candidate's process share one)."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


class RunConfig(BaseModel):
    """Everything that shapes a run. Stored in the run row so `evolve resume` rebuilds it exactly."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    iterations: int = Field(default=100, ge=0, description="proposals to make after the seed")
    seed: int = Field(default=0, description="all randomness derives from this and the iteration")
    workers: int = Field(default_factory=default_workers, ge=1, le=MAX_WORKERS, description="evaluations running at once (default: one per core)")
    llm_concurrency: int | None = Field(
        default=None, ge=1, le=1024, description="proposer calls in flight at once (None: 8 per evaluation slot, at least 16)"
    )
    order: CommitOrder | None = Field(
        default=None,
        description="iteration: plans and commits in iteration order (exactly reproducible); completion: commit as "
        "evaluations finish, record each plan's snapshot (None: as runs made before this setting, iteration)",
    )
    executor: Literal["local", "ray"] = Field(default="local", description="where evaluations run: this machine, or a Ray cluster")
    ray_address: str | None = Field(default=None, description="an existing Ray cluster (host:port or ray://...); None: a local Ray")
    islands: int = Field(default=2, ge=1, le=64, description="isolated sub-populations")
    migration_interval: int = Field(default=10, ge=1, description="iterations between ring migrations")
    archive_size: int = Field(default=20, ge=1, description="elite archive capacity (all islands)")
    exploration_ratio: float = Field(default=0.2, ge=0, le=1, description="parent drawn uniformly from grid")
    exploitation_ratio: float = Field(default=0.3, ge=0, le=1, description="parent drawn from the elite archive")
    inspirations: int = Field(default=3, ge=0, le=16, description="other programs shown to the proposer")
    timeout_seconds: float = Field(default=120.0, gt=0, le=86_400, description="wall limit per candidate (all stages)")
    memory_mb: int = Field(default=2048, ge=64, le=1_048_576, description="address-space limit per candidate")
    sandbox: SandboxName = Field(default="auto", description="auto: docker, else bwrap, else process (not isolated)")
    workloads: Literal["private", "public"] = Field(
        default="private", description="private: the evaluator's seed mixed with this machine's secret (see evolve.workloads)"
    )
    workload_salt: int | None = Field(default=None, ge=0, description="the secret mixed into the evaluator's seed; set at creation")
    proposer: Literal["offline", "llm"] = "offline"
    llm: LlmSettings | None = Field(default=None, description="the model ensemble; None: offline mutator")
    max_cost_usd: float | None = Field(default=None, gt=0, description="stop before LLM spend could pass this")
    max_tokens: int | None = Field(default=None, ge=1, description="stop before LLM tokens could pass this")
    max_time_seconds: float | None = Field(default=None, gt=0, description="stop after this much wall time")
    target_score: float | None = Field(default=None, description="stop once the best reaches this")
    max_failed_calls: int = Field(
        default=5, ge=1, description="stop (failed) after this many iterations in a row whose proposer call failed outright"
    )

    @model_validator(mode="after")
    def _proposer_matches(self) -> "RunConfig":
        if (self.proposer == "llm") != (self.llm is not None):
            raise ValueError("proposer 'llm' needs an [llm] table with models, and only it does")
        return self

    @model_validator(mode="after")
    def _ratios(self) -> "RunConfig":
        if self.exploration_ratio + self.exploitation_ratio > 1.0:
            raise ValueError("exploration_ratio + exploitation_ratio must be at most 1")
        return self

    def calls(self) -> int:
        """Proposer calls in flight at most. Iteration order never has more than `workers` iterations
        in flight, so there a larger number changes nothing (and earlier runs stay as they were)."""
        return self.llm_concurrency or max(16, 8 * self.workers)

    def commit_order(self) -> CommitOrder:
        return self.order or "iteration"

    def limits(self) -> Limits:
        cpu = int(self.timeout_seconds) + 5
        return Limits(wall_seconds=self.timeout_seconds, cpu_seconds=cpu, memory_mb=self.memory_mb)


def build_config(*layers: dict) -> RunConfig:
    """Merge setting layers (problem defaults, then command-line options); later layers win."""
    merged: dict = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if v is not None})
    try:
        return RunConfig.model_validate(merged)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "config"
        raise ConfigError(f"invalid setting {field}: {error['msg']}") from exc


def with_commit_order(config: RunConfig) -> RunConfig:
    """A new run's commit order, unless chosen: completion for live LLM calls (a slow call must not
    hold the others back), iteration otherwise (the offline mutator and replays of runs recorded
    that way are exactly reproducible)."""
    if config.order is not None:
        return config
    live = config.llm is not None and not config.llm.replay
    return config.model_copy(update={"order": "completion" if live else "iteration"})


def with_private_workloads(config: RunConfig) -> RunConfig:
    """A new run's config with its workload salt drawn (private workloads), else unchanged."""
    from evolve.workloads import run_salt

    if config.workloads == "private" and config.workload_salt is None:
        return config.model_copy(update={"workload_salt": run_salt(config.seed)})
    return config
