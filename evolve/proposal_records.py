"""Between the proposer and the store: a Proposal as a stored record, and a committed child as the
Feedback a learning proposer observes (on resume too, from the stored records)."""

from __future__ import annotations

from evolve.proposers.base import Feedback, PromptVariant, Proposal
from evolve.store.records import CallSummary, CandidateRecord, LineageEntry, PromptVariantRecord, ProposalRecord


def proposal_record(proposal: Proposal, parent_id: int | None, latency_s: float) -> ProposalRecord:
    """The record of a call (and of the prompt-writing call made before it, if any)."""
    variant = proposal.new_variant
    return ProposalRecord(
        proposer=proposal.proposer,
        model=proposal.model,
        prompt=proposal.prompt,
        response=proposal.response,
        tokens_in=proposal.tokens_in,
        tokens_out=proposal.tokens_out,
        cost_usd=proposal.cost_usd,
        latency_s=latency_s,
        error=proposal.failure and f"{proposal.failure}: {proposal.detail}",
        operator=proposal.operator,
        attempts=proposal.attempts,
        priced=proposal.priced,
        parent_id=parent_id,
        prompt_variant=proposal.prompt_variant,
        prompt_call=proposal_record(proposal.prompt_call, None, proposal.prompt_call.latency_s) if proposal.prompt_call else None,
        new_variant=PromptVariantRecord(variant.name, variant.text, variant.parent) if variant else None,
    )


def improvement_of(child: CandidateRecord, parent_score: float | None, maximize: bool) -> float | None:
    """Child minus parent (a member of the population, so valid) in the objective's better
    direction; None unless both have scores."""
    if child.status != "valid" or child.score is None or parent_score is None:
        return None
    return (child.score - parent_score) * (1 if maximize else -1)


def feedback_of(
    child: LineageEntry, call: CallSummary, written: PromptVariantRecord | None, reason: str = "", summary: str = ""
) -> Feedback:
    """How the child turned out, for the bandits and the prompt writer. `reason` and `summary` are
    only read for the latest children (the prompt writer's examples), so a resume loads them for
    those alone."""
    return Feedback(
        child.iteration,
        call.model,
        call.cost_usd,
        child.improvement,
        call.priced,
        prompt_variant=call.prompt_variant,
        new_variant=PromptVariant(written.name, written.text, written.parent, child.position) if written else None,
        status=child.status,
        reason=reason,
        summary=summary,
        score=child.score,
        position=child.position,
    )


def call_summary(record: ProposalRecord) -> CallSummary:
    return CallSummary(record.model, record.cost_usd, record.priced, record.prompt_variant)


def outcome_text(child: CandidateRecord) -> tuple[str, str]:
    """(failure reason and detail, summary), as Feedback carries them."""
    return ": ".join(x for x in (child.failure_reason, child.failure_detail) if x)[:300], child.summary
