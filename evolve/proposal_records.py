"""Between the proposer and the store: a Proposal as a stored record, and a committed child as the
Feedback a learning proposer observes (on resume too, from the stored records)."""

from __future__ import annotations

from evolve.proposers.base import Feedback, PromptVariant, Proposal
from evolve.store.records import CandidateRecord, PromptVariantRecord, ProposalRecord


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


def improvement_of(child: CandidateRecord, parent: CandidateRecord | None, maximize: bool) -> float | None:
    """Child minus parent in the objective's better direction; None unless both have valid scores."""
    if child.status != "valid" or child.score is None or parent is None or parent.score is None:
        return None
    return (child.score - parent.score) * (1 if maximize else -1)


def feedback_of(child: CandidateRecord, parent: CandidateRecord | None, proposal: ProposalRecord, maximize: bool) -> Feedback:
    """How the child turned out, for the bandits and the prompt writer."""
    written = proposal.new_variant
    return Feedback(
        child.iteration,
        proposal.model,
        proposal.cost_usd,
        improvement_of(child, parent, maximize),
        proposal.priced,
        prompt_variant=proposal.prompt_variant,
        new_variant=PromptVariant(written.name, written.text, written.parent, child.iteration) if written else None,
        status=child.status,
        reason=": ".join(x for x in (child.failure_reason, child.failure_detail) if x)[:300],
        summary=child.summary,
        score=child.score,
    )
