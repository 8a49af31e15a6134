"""One candidate in full, for `evolve show RUN ITERATION`: what it is, how it scored, how it was made.

`candidate_view` gathers plain data from the store; `format_candidate` turns it into text and
`CandidateView.to_json` into JSON, so the CLI only parses, calls and prints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from evolve.errors import UserError
from evolve.proposers.base import BASE_VARIANT
from evolve.store import RunInfo, Store
from evolve.store.records import ProposalRecord


@dataclass(frozen=True)
class StageView:
    stage: str
    valid: bool
    reason: str | None
    error: str | None
    seconds: float
    metrics: dict[str, float]
    feedback: str


@dataclass(frozen=True)
class CallView:
    """The proposer call that made the candidate, and the prompt variant it used."""

    proposer: str
    model: str
    operator: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    priced: bool
    latency_s: float
    attempts: int
    error: str | None
    prompt: str
    answer: str
    prompt_variant: str
    variant_guidance: str | None  # the variant's text (None: base, or no prompt evolution)
    wrote_variant: str | None  # a variant written by a second call of this iteration
    writer_cost_usd: float


@dataclass(frozen=True)
class CandidateView:
    run: str
    iteration: int
    candidate_id: int
    island: int
    generation: int
    parent_iteration: int | None
    status: str
    failure_reason: str | None
    failure_detail: str
    score: float | None
    test_score: float | None
    summary: str
    stages: tuple[StageView, ...]
    diff: str
    call: CallView | None

    def to_json(self) -> dict:
        return asdict(self)


def candidate_view(store: Store, run: RunInfo, iteration: int) -> CandidateView:
    """Everything stored about the candidate of one iteration; UserError if there is none."""
    candidate = store.candidate_at(run.id, iteration)
    if candidate is None:
        raise UserError(f"run {run.name!r} has no iteration {iteration} (it has 0..{max(0, store.run(run.name).iterations_done)})")
    parent = store.candidate(candidate.parent_id) if candidate.parent_id is not None else None
    proposal = store.proposal_of(candidate.id)
    stages = tuple(StageView(e.stage, e.valid, e.reason, e.error, e.seconds, dict(e.metrics), e.feedback) for e in candidate.evaluations)
    return CandidateView(
        run=run.name, iteration=iteration, candidate_id=candidate.id, island=candidate.island, generation=candidate.generation,
        parent_iteration=parent.iteration if parent else None, status=candidate.status,
        failure_reason=candidate.failure_reason, failure_detail=candidate.failure_detail, score=candidate.score,
        test_score=candidate.test_score, summary=candidate.summary, stages=stages, diff=candidate.diff,
        call=_call_view(store, run, proposal) if proposal else None,
    )


def _call_view(store: Store, run: RunInfo, p: ProposalRecord) -> CallView:
    guidance = {v.name: v.text for v in store.prompt_variants(run.id)}
    return CallView(
        proposer=p.proposer, model=p.model, operator=p.operator, tokens_in=p.tokens_in, tokens_out=p.tokens_out,
        cost_usd=p.cost_usd, priced=p.priced, latency_s=p.latency_s, attempts=len(p.attempts), error=p.error,
        prompt=p.prompt, answer=p.response, prompt_variant=p.prompt_variant, variant_guidance=guidance.get(p.prompt_variant),
        wrote_variant=p.new_variant.name if p.new_variant else None,
        writer_cost_usd=p.prompt_call.cost_usd if p.prompt_call else 0.0,
    )


def format_candidate(view: CandidateView) -> str:
    """Plain text, section by section (no markup: prompts and code print as they are)."""
    parent = "none (the seed)" if view.parent_iteration is None else f"iteration {view.parent_iteration}"
    lines = [
        f"run {view.run}, iteration {view.iteration} (candidate {view.candidate_id}), island {view.island}, "
        f"generation {view.generation}, parent: {parent}",
        f"status: {view.status}" + (f" ({view.failure_reason})" if view.failure_reason else ""),
    ]
    if view.failure_detail:  # the candidate's own text (a traceback, an exception message): indented,
        lines += ["detail:", *_indented(view.failure_detail, "  | ")]  # so it cannot pose as the lines below
    lines.append(f"score: {_num(view.score)}   held-out test: {_num(view.test_score)}")
    if view.summary:
        lines.append(f"summary: {view.summary}")
    lines += _stages(view.stages)
    lines += ["", "diff against the parent:" if view.diff else "diff against the parent: none", *_indented(view.diff)]
    if view.call is not None:
        lines += _call(view.call)
    return "\n".join(lines) + "\n"


def _stages(stages: tuple[StageView, ...]) -> list[str]:
    out = ["", "stages:" if stages else "stages: none run"]
    for s in stages:
        metrics = ", ".join(f"{k}={v:.6g}" for k, v in sorted(s.metrics.items()))
        verdict = "valid" if s.valid and not s.error else f"NOT valid ({_one_line(s.error or s.reason or '')})"
        out.append(f"  {s.stage}: {verdict}, {s.seconds:.2f} s" + (f"; {metrics}" if metrics else ""))
        if s.feedback:
            out += ["    feedback:", *_indented(s.feedback, "      ")]
    return out


def _call(c: CallView) -> list[str]:
    if c.proposer != "llm":
        return ["", f"proposer: {c.proposer} ({c.operator})"]
    dollars = f"${c.cost_usd:.6f}" if c.priced else "unpriced"
    out = [
        "",
        f"LLM call: {c.model}, operator {c.operator}, {c.tokens_in} tokens in / {c.tokens_out} out, {dollars}, "
        f"{c.latency_s:.1f} s, {c.attempts} attempt(s)",
    ]
    if c.prompt_variant == BASE_VARIANT:
        out.append("prompt variant: base (the shipped system prompt, no added guidance)")
    elif c.prompt_variant:
        out += [f"prompt variant: {c.prompt_variant}, whose guidance is:", *_indented(c.variant_guidance or "")]
    if c.wrote_variant:
        out.append(f"this iteration also wrote prompt variant {c.wrote_variant}, for later iterations (that call: ${c.writer_cost_usd:.6f})")
    if c.error:
        out.append(f"error: {c.error}")
    return out + ["", "prompt:", *_indented(c.prompt), "", "answer:", *_indented(c.answer or "(none)")]


def _indented(text: str, pad: str = "  ") -> list[str]:
    return [pad + line for line in text.rstrip("\n").split("\n")] if text else []


def _one_line(text: str) -> str:
    return " ⏎ ".join(text.splitlines())


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
