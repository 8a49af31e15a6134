"""Typed values a report is built from: the data layer's output and the renderer's only input.

Everything here is plain data read from the store, so the same values can be checked in tests,
rendered as HTML, or dumped as JSON, and no renderer ever touches the store or SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from evolve.store.records import CandidateRecord, ProposalRecord


@dataclass(frozen=True)
class ScorePair:
    """A program's objective on the train stage and on the held-out test stage (None: not run)."""

    train: float | None
    test: float | None


@dataclass(frozen=True)
class Baseline:
    name: str
    scores: ScorePair


@dataclass(frozen=True)
class Spent:
    """Time and money. Wall time runs from the run's creation to its last write (pauses included)."""

    wall_seconds: float
    evaluation_seconds: float
    proposer_seconds: float  # summed call latency (LLM calls, offline mutations)
    calls: int
    tokens_in: int
    tokens_out: int
    dollars: float
    unpriced_calls: int


@dataclass(frozen=True)
class Overview:
    """The run at a glance."""

    run_name: str
    problem: str
    problem_path: str
    state: str
    iterations_done: int
    iterations_requested: int | None
    proposers: tuple[str, ...]
    sandbox: str
    metric: str
    maximize: bool
    train_stage: str
    test_stage: str | None
    seed: ScorePair
    best: ScorePair
    best_candidate_id: int | None
    best_iteration: int | None
    baselines: tuple[Baseline, ...]
    spent: Spent
    counts: tuple[tuple[str, int], ...]  # candidates by status, most frequent first
    notes: tuple[str, ...]  # what the report could not show, and why
    created_at: datetime
    updated_at: datetime
    built_at: datetime


@dataclass(frozen=True)
class ScorePoint:
    """One candidate on the score chart; `score` is None for candidates with no train score."""

    candidate_id: int
    iteration: int
    island: int
    status: str
    reason: str | None
    score: float | None
    summary: str


@dataclass(frozen=True)
class BestStep:
    """A moment the running best improved (the seed is the first), with its held-out test score."""

    candidate_id: int
    iteration: int
    train: float
    test: float | None


@dataclass(frozen=True)
class ScoreCurve:
    points: tuple[ScorePoint, ...]
    best_steps: tuple[BestStep, ...]
    last_iteration: int


@dataclass(frozen=True)
class AncestryStep:
    """One step on the path from the seed to the best. `delta` is score minus the parent's score."""

    candidate_id: int
    iteration: int
    island: int
    score: float | None
    test_score: float | None
    delta: float | None
    improved: bool  # better than its parent in the objective's direction
    summary: str
    operator: str
    model: str
    diff: str


@dataclass(frozen=True)
class TreeNode:
    """A candidate placed on the lineage chart: x is its iteration, y its lane."""

    candidate_id: int
    parent_id: int | None
    iteration: int
    lane: float
    status: str
    score: float | None
    on_best_path: bool


@dataclass(frozen=True)
class LineageTree:
    nodes: tuple[TreeNode, ...]
    total: int  # candidates in the run; more than len(nodes) when the tree was pruned
    note: str  # what was left out, or "" when every candidate is drawn


@dataclass(frozen=True)
class ReasonCount:
    reason: str
    status: str
    count: int
    first_iteration: int
    last_iteration: int
    latest_candidate_id: int


@dataclass(frozen=True)
class ReasonSeries:
    reason: str
    counts: tuple[int, ...]  # one per iteration bin


@dataclass(frozen=True)
class FailureTimeline:
    """Candidates that did not pass, by reason, counted in bins of `bin_width` iterations."""

    bin_width: int
    bin_starts: tuple[int, ...]
    series: tuple[ReasonSeries, ...]
    totals: tuple[ReasonCount, ...]


@dataclass(frozen=True)
class ModelSpend:
    """One model's (or the offline mutator's) calls and what they bought."""

    model: str
    proposer: str
    calls: int
    uncommitted: int  # paid for, but a stop cancelled the iteration
    errors: int
    tokens_in: int
    tokens_out: int
    dollars: float
    latency_seconds: float
    unpriced_calls: int
    new_bests: int

    @property
    def new_bests_per_dollar(self) -> float | None:
        return self.new_bests / self.dollars if self.dollars > 0 else None


@dataclass(frozen=True)
class SpendPoint:
    iteration: int
    calls: int  # cumulative
    tokens: int  # cumulative, in + out
    dollars: float  # cumulative


@dataclass(frozen=True)
class ModelSeries:
    model: str
    points: tuple[SpendPoint, ...]


@dataclass(frozen=True)
class Spend:
    models: tuple[ModelSpend, ...]
    series: tuple[ModelSeries, ...]


@dataclass(frozen=True)
class Axis:
    metric: str
    low: float
    high: float
    bins: int

    def edges(self) -> tuple[float, ...]:
        step = (self.high - self.low) / self.bins
        return tuple(self.low + k * step for k in range(self.bins + 1))


@dataclass(frozen=True)
class IslandGrid:
    """An island's MAP-Elites grid: rows are bins of `y`, columns bins of `x`; None is an empty cell."""

    island: int
    x: Axis
    y: Axis
    scores: tuple[tuple[float | None, ...], ...]
    candidate_ids: tuple[tuple[int | None, ...], ...]


@dataclass(frozen=True)
class Grids:
    islands: tuple[IslandGrid, ...]
    note: str  # why there is no heat map, or ""


@dataclass(frozen=True)
class CandidateDetail:
    """One candidate as stored, with the call that proposed it and its children (for navigation)."""

    candidate: CandidateRecord
    call: ProposalRecord | None  # None for the seed
    child_ids: tuple[int, ...]

    @property
    def model(self) -> str:
        return (self.call.model or self.call.proposer) if self.call else ""


@dataclass(frozen=True)
class ReportData:
    overview: Overview
    curve: ScoreCurve
    ancestry: tuple[AncestryStep, ...]
    tree: LineageTree
    failures: FailureTimeline
    spend: Spend
    grids: Grids
    candidates: tuple[CandidateDetail, ...]
