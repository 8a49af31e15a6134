"""Plain values the store hands out and takes in, so no caller touches ORM objects or SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class EvaluationRecord:
    stage: str
    metrics: dict[str, float]
    valid: bool
    reason: str | None = None
    feedback: str = ""
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class PromptVariantRecord:
    """A system-prompt variant written during a run (prompt evolution): guidance added to the
    shipped system prompt, written by an LLM from the run's best and worst recent children."""

    name: str
    text: str
    parent: str = ""  # the variant it was written from ("base": the shipped prompt alone)
    iteration: int | None = None  # set by the store when reading


@dataclass(frozen=True)
class ProposalRecord:
    proposer: str
    model: str = ""
    prompt: str = ""
    response: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    error: str | None = None
    operator: str = ""
    attempts: tuple[dict, ...] = ()
    priced: bool = True
    iteration: int | None = None  # set by the store when reading
    parent_id: int | None = None  # the candidate the call was asked to improve
    prompt_variant: str = ""  # the system-prompt variant the call used (prompt evolution)
    prompt_call: "ProposalRecord | None" = None  # the call that wrote a new variant first (paid, even if failed)
    new_variant: PromptVariantRecord | None = None  # the variant that call wrote


@dataclass(frozen=True)
class CandidateRecord:
    """One candidate with its evaluations. `id` is None until the store assigns it."""

    iteration: int
    island: int
    generation: int
    parent_id: int | None
    code: str
    code_hash: str
    norm_hash: str
    status: str  # valid | invalid | failed | rejected | duplicate
    inspiration_ids: tuple[int, ...] = ()
    diff: str = ""
    summary: str = ""
    failure_reason: str | None = None
    failure_detail: str = ""
    score: float | None = None
    test_score: float | None = None
    improvement: float | None = None  # over the parent, in the objective's better direction (valid children)
    features: dict[str, float] = field(default_factory=dict)
    evaluations: tuple[EvaluationRecord, ...] = ()
    id: int | None = None
    position: int | None = None  # its place in the order the run committed candidates (the seed: 0)
    seen_upto: int | None = None  # the position of the last candidate its plan could see

    def evaluation(self, stage: str) -> EvaluationRecord | None:
        return next((e for e in self.evaluations if e.stage == stage), None)


@dataclass(frozen=True)
class LineageEntry:
    """A committed candidate as the population keeps it: no code, diff or evaluations (those stay
    in the store until a prompt or an export reads them), so a 100k-candidate run fits in memory."""

    id: int
    iteration: int
    position: int
    island: int
    generation: int
    status: str
    score: float | None
    test_score: float | None
    failure_reason: str | None
    has_code: bool
    features: dict[str, float]
    proposal_id: int | None = None
    improvement: float | None = None


def entry_of(c: CandidateRecord, proposal_id: int | None = None) -> LineageEntry:
    """The lineage entry of a candidate just committed (id and position set)."""
    assert c.id is not None and c.position is not None, "only a stored candidate has an entry"
    return LineageEntry(
        c.id, c.iteration, c.position, c.island, c.generation, c.status, c.score, c.test_score, c.failure_reason,
        bool(c.code), dict(c.features), proposal_id, c.improvement,
    )


@dataclass(frozen=True)
class CallSummary:
    """A proposer call without its prompt and answer: what a learning proposer needs on resume."""

    model: str
    cost_usd: float
    priced: bool
    prompt_variant: str


@dataclass(frozen=True)
class ReferenceRecord:
    name: str
    stage: str
    score: float | None
    valid: bool
    metrics: dict[str, float]


@dataclass(frozen=True)
class RunInfo:
    id: int
    name: str
    problem_name: str
    problem_path: str
    problem_version: str
    config: dict
    state: str
    iterations_done: int
    best_candidate_id: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StoredAnswer:
    """An LLM answer as stored, with the program it was written for (None: not recorded)."""

    iteration: int
    model: str
    operator: str
    prompt_variant: str
    response: str
    parent_code: str | None
    status: str | None  # of the candidate it became; None: its iteration was never committed
    failure_reason: str | None


@dataclass(frozen=True)
class VariantStats:
    """A prompt variant and its record: calls that used it, and how their children did."""

    variant: PromptVariantRecord
    calls: int
    valid: int
    improved: int  # children better than their parent
    best_improvement: float | None


@dataclass(frozen=True)
class CandidateSummary:
    """A candidate without its code: for listings and failure tallies."""

    iteration: int
    island: int
    status: str
    failure_reason: str | None
    failure_detail: str
    score: float | None
    test_score: float | None
    summary: str
