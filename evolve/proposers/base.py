"""The proposer contract: one verb (`propose`) plus closing.

A proposer returns the child's full code, or a failure with a reason; it never raises for an
ordinary bad answer. Everything about the call (prompt, response, tokens, dollars) comes back in
`Proposal` so the controller can record it without knowing which provider made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ProgramView:
    """A program as a proposer sees it: code, its train score, metrics and evaluator feedback."""

    candidate_id: int
    code: str
    score: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    feedback: str = ""
    error: str = ""  # for a failed program: why it failed (shown by the repair operator)


@dataclass(frozen=True)
class ProposalRequest:
    """Everything a proposer may use for one iteration; `seed` makes its randomness replayable."""

    iteration: int
    island: int
    parent: ProgramView
    inspirations: tuple[ProgramView, ...]
    seed: str
    context: str = ""
    seen_upto: int = 0  # commit position of the population this call was planned from
    failed: ProgramView | None = None  # a recent failed child on this island, for repair


PROMPT_OPERATOR = "prompt"  # the operator tag of a call that wrote a prompt variant, not a child
BASE_VARIANT = "base"  # the shipped system prompt, with no written guidance


@dataclass(frozen=True)
class PromptVariant:
    """A system-prompt variant (prompt evolution): guidance an LLM wrote from the run's best and
    worst recent children, added to the shipped system prompt. "base" has none."""

    name: str
    text: str
    parent: str = ""
    born: int = 0  # the commit position of the iteration whose call wrote it


@dataclass(frozen=True)
class Proposal:
    """The child program (or the reason there is none) and the record of how it was made."""

    code: str | None
    proposer: str
    model: str = ""
    prompt: str = ""
    response: str = ""
    summary: str = ""
    failure: str | None = None  # short tag, e.g. "no_code", "outside_block", "unmatched_search"
    detail: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    operator: str = ""  # diff | rewrite | crossover | repair | mutate
    attempts: tuple[dict, ...] = ()  # one entry per try of the call (outcome, seconds, wait...)
    priced: bool = True  # False when the model is missing from the price table (dollars unknown)
    prompt_variant: str = ""  # the system-prompt variant the call used (prompt evolution)
    prompt_call: "Proposal | None" = None  # a call made first to write a new variant (paid even if it failed)
    new_variant: PromptVariant | None = None  # the variant that call wrote


@dataclass(frozen=True)
class Feedback:
    """How a committed proposal turned out, for proposers that learn (the model and prompt bandits,
    the prompt writer).

    `improvement` is child minus parent in the objective's better direction, None when the child
    has no valid score.
    """

    iteration: int
    model: str
    cost_usd: float
    improvement: float | None
    priced: bool = True  # False: the dollars are unknown, not zero
    prompt_variant: str = ""
    new_variant: PromptVariant | None = None  # written in this iteration
    status: str = ""
    reason: str = ""  # failure reason and detail, for a child that failed
    summary: str = ""
    score: float | None = None
    position: int = 0  # the child's commit position: requests see feedback up to their `seen_upto`


class Proposer(Protocol):
    name: str

    async def propose(self, request: ProposalRequest) -> Proposal: ...

    def observe(self, feedback: Feedback) -> None:
        """Called in iteration order for every committed proposal (also replayed on resume)."""

    async def aclose(self) -> None: ...
