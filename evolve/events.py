"""Events the controller emits, and RunStatus: plain data the live view renders.

The loop knows nothing about rich; it calls `sink.emit(event)`. RunStatus folds events into a
snapshot that any view (rich, plain log lines, tests) can read.
"""

from __future__ import annotations

import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class RunStarted:
    run: str
    problem: str
    requested: int
    done: int
    proposer: str
    proposer_note: str
    sandbox: str
    workers: int
    islands: int
    llm_concurrency: int = 0  # proposer calls in flight at most
    order: str = "iteration"  # how finished iterations are committed (evolve.loop.orders)
    maximize: bool = True
    sandbox_note: str = ""
    workloads: str = "public"  # private: seeded with this machine's secret (evolve.workloads)
    max_cost_usd: float | None = None
    max_tokens: int | None = None
    spent_usd: float = 0.0  # by earlier sessions of this run (resume)
    spent_tokens: int = 0
    calls: int = 0


@dataclass(frozen=True)
class ReferenceScored:
    name: str
    stage: str
    score: float | None


@dataclass(frozen=True)
class IterationDone:
    iteration: int
    island: int
    status: str
    reason: str | None
    score: float | None
    new_best: bool
    summary: str
    seconds: float
    test_score: float | None = None
    model: str = ""
    cost_usd: float = 0.0
    tokens: int = 0
    detail: str = ""  # a failed candidate's reason in one line (evolve show has all of it)


@dataclass(frozen=True)
class Resumed:
    """What a resumed run had done before this session, so the view starts from it, not from zero."""

    seed_score: float | None
    best_score: float | None
    best_iteration: int | None
    best_test_score: float | None
    statuses: tuple[tuple[str, int], ...]
    failures: tuple[tuple[str, int], ...]
    island_best: tuple[tuple[int, float], ...]
    improvements: int


@dataclass(frozen=True)
class Warned:
    """Something the user should know and act on; the run goes on (a stop comes as RunEnded)."""

    iteration: int
    text: str


@dataclass(frozen=True)
class Migrated:
    iteration: int
    moves: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class RunEnded:
    state: str
    reason: str


Event = RunStarted | ReferenceScored | IterationDone | Resumed | Warned | Migrated | RunEnded


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...


@dataclass
class RunStatus:
    """A live snapshot of a run, updated from events."""

    run: str = ""
    problem: str = ""
    requested: int = 0
    done: int = 0
    proposer: str = ""
    proposer_note: str = ""
    sandbox: str = ""
    sandbox_note: str = ""
    workers: int = 1
    llm_concurrency: int = 0
    order: str = "iteration"
    maximize: bool = True
    seed_score: float | None = None
    best_score: float | None = None
    best_iteration: int | None = None
    best_test_score: float | None = None
    baselines: dict[str, float | None] = field(default_factory=dict)
    island_best: dict[int, float] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    details: Counter = field(default_factory=Counter)  # (reason, detail with numbers as #) -> count
    examples: dict = field(default_factory=dict)  # the same key -> the latest detail as it was
    warnings: list[str] = field(default_factory=list)
    recent: deque = field(default_factory=lambda: deque(maxlen=8))
    state: str = "starting"
    end_reason: str = ""
    started: float = field(default_factory=time.monotonic)
    eval_seconds: float = 0.0
    evaluated: int = 0
    max_cost_usd: float | None = None
    max_tokens: int | None = None
    spent_usd: float = 0.0
    spent_tokens: int = 0
    calls: int = 0
    improvements: int = 0

    def emit(self, event: Event) -> None:
        match event:
            case RunStarted():
                self.run, self.problem, self.requested, self.done = event.run, event.problem, event.requested, event.done
                self.proposer, self.proposer_note, self.sandbox = event.proposer, event.proposer_note, event.sandbox
                self.workers, self.state, self.maximize = event.workers, "running", event.maximize
                self.llm_concurrency, self.order = event.llm_concurrency, event.order
                self.sandbox_note = event.sandbox_note
                self.max_cost_usd, self.max_tokens = event.max_cost_usd, event.max_tokens
                self.spent_usd, self.spent_tokens, self.calls = event.spent_usd, event.spent_tokens, event.calls
                self.island_best = {i: self.island_best.get(i, float("nan")) for i in range(event.islands)}
            case ReferenceScored() if event.stage == "train":
                self.baselines[event.name] = event.score
            case IterationDone():
                self._iteration(event)
            case Resumed():
                self._resumed(event)
            case Warned():
                self.warnings.append(event.text)
                self.recent.append(f"#{event.iteration} warning: {event.text}")
            case Migrated():
                self.recent.append(f"#{event.iteration} migration: {len(event.moves)} elite(s) moved along the ring")
            case RunEnded():
                self.state, self.end_reason = event.state, event.reason

    def _iteration(self, e: IterationDone) -> None:
        self.done = max(self.done, e.iteration)
        if e.iteration == 0:
            self.seed_score = e.score
        self.statuses[e.status] += 1
        if e.reason:
            self.failures[e.reason] += 1
            key = (e.reason, re.sub(r"\d+(\.\d+)?", "#", e.detail)[:90])
            self.details[key] += 1
            self.examples[key] = e.detail
        if e.seconds > 0:
            self.eval_seconds += e.seconds
            self.evaluated += 1
        if e.score is not None and e.status == "valid":
            old = self.island_best.get(e.island)
            if old is None or old != old or (e.score > old) == self.maximize:
                self.island_best[e.island] = e.score
        if e.new_best:
            self.best_score, self.best_iteration, self.best_test_score = e.score, e.iteration, e.test_score
            self.improvements += e.iteration > 0
        if e.iteration > 0:
            self.calls += 1
            self.spent_usd += e.cost_usd
            self.spent_tokens += e.tokens
        self.recent.append(_describe(e))

    def _resumed(self, e: Resumed) -> None:
        self.seed_score, self.best_score, self.best_iteration = e.seed_score, e.best_score, e.best_iteration
        self.best_test_score, self.improvements = e.best_test_score, e.improvements
        self.statuses.update(dict(e.statuses))
        self.failures.update(dict(e.failures))
        self.island_best.update(dict(e.island_best))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def _describe(e: IterationDone) -> str:
    head = f"#{e.iteration} island {e.island}: {e.status}"
    if e.score is not None:
        head += f" {e.score:.3f}"
    if e.reason and e.reason != e.status:
        head += f" ({e.reason})"
    if e.detail:
        head += f": {e.detail[:100]}"
    if e.new_best:
        head += "  NEW BEST"
    if e.model and e.iteration > 0:
        name = e.model.partition("/")[2] or e.model
        head += f"  [{name} {e.tokens:,} tok ${e.cost_usd:.4f}]" if e.tokens else f"  [{name}]"
    if e.summary:
        head += f"  {e.summary[:70]}"
    return head
