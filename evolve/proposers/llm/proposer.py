"""The LLM proposer: pick a model and an operator, build the prompt, call (or replay), account.

Never raises for a bad call or a bad answer: those come back as a Proposal with a failure tag
(llm_rate_limited, llm_timeout, no_code, outside_block, ...). It raises BudgetExhausted before a
call whose worst case would break a budget, so the controller can stop the run cleanly.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, replace

from evolve.edits.answer import child_from_answer
from evolve.errors import PatchError, ProviderError, ReplayExhausted, RunHalted
from evolve.proposers.base import PROMPT_OPERATOR, Feedback, PromptVariant, Proposal, ProposalRequest
from evolve.proposers.llm.budget import Ledger, estimate_tokens
from evolve.proposers.llm.cassette import Cassette, Recorded, Recorder, request_hash
from evolve.proposers.llm.chooser import ModelChooser
from evolve.proposers.llm.operators import choose_operator, summary_of
from evolve.proposers.llm.pricing import PriceTable
from evolve.proposers.llm.prompting import PromptBuilder
from evolve.proposers.llm.retry import CallResult, call_with_retries
from evolve.proposers.llm.specs import LlmSettings, ModelSpec
from evolve.proposers.llm.variants import NoGuidance, PromptPopulation, guidance_from
from evolve.proposers.llm.wire import ChatClient, ChatRequest


TRUNCATED = frozenset({"length", "max_tokens"})  # OpenAI's and Anthropic's "ran out of output tokens"


@dataclass(frozen=True)
class Answer:
    """A finished call, live or replayed, in the form the proposer turns into a Proposal."""

    result: CallResult
    cost_usd: float
    priced: bool
    latency_s: float


class LlmProposer:
    name = "llm"

    def __init__(
        self,
        settings: LlmSettings,
        prompts: PromptBuilder,
        prices: PriceTable,
        ledger: Ledger,
        clients: dict[str, ChatClient] | None = None,
        cassette: Cassette | None = None,
        recorder: Recorder | None = None,
    ):
        if (clients is None) == (cassette is None):
            raise ValueError("give either live clients or a cassette to replay")
        self.settings = settings
        self.prompts = prompts
        self.prices = prices
        self.ledger = ledger
        self.chooser = ModelChooser(settings.models, settings.selection, settings.cost_weight)
        self.population = (
            PromptPopulation(settings.prompt_population, settings.prompt_interval) if settings.prompt_evolution else None
        )
        self._clients = clients or {}
        self._cassette = cassette
        self._recorder = recorder
        names = ", ".join(m.name for m in settings.models)
        mode = f"replaying {cassette.path}" if cassette else settings.selection
        self.note = f"{names} ({mode}{', prompt evolution' if settings.prompt_evolution else ''})"

    def observe(self, feedback: Feedback) -> None:
        self.chooser.observe(feedback)
        if self.population is not None:
            self.population.observe(feedback)

    async def propose(self, request: ProposalRequest) -> Proposal:
        rng = random.Random(f"{request.seed}:llm")
        spec = self.chooser.choose(rng, request.seen_upto)
        operator = choose_operator(self.settings.operators, request, rng)
        population = self.population
        variant = population.choose(random.Random(f"{request.seed}:prompt"), request.seen_upto) if population else None
        wording = random.Random(f"{request.seed}:wording") if population else None
        chat = self.prompts.build(operator, request, variant.text if variant else "", wording)
        answer = await self._call(request.iteration, spec, chat, rng)
        proposal = self._proposal(request, spec, operator, chat, answer)
        if variant is None:
            return proposal
        call, written = await self._write_variant(request, spec) if population.due(request.iteration, request.seen_upto) else (None, None)
        return replace(proposal, prompt_variant=variant.name, prompt_call=call, new_variant=written)

    async def _call(self, iteration: int, spec: ModelSpec, chat: ChatRequest, rng: random.Random) -> Answer:
        """One call within the budget: its worst case is held until its real cost is known."""
        estimated_in = estimate_tokens(chat.system + chat.user)
        reservation = await self.ledger.reserve(
            self.prices.cost(spec.name, estimated_in, spec.max_tokens), estimated_in + spec.max_tokens
        )
        answer = None
        try:
            answer = await self._answer(iteration, spec, chat, rng)
        finally:
            reply = answer.result.reply if answer else None
            tokens = reply.tokens_in + reply.tokens_out if reply else 0
            await asyncio.shield(self.ledger.settle(reservation, answer.cost_usd if answer else 0.0, tokens))
        return answer

    async def _write_variant(self, request: ProposalRequest, spec: ModelSpec) -> tuple[Proposal | None, PromptVariant | None]:
        """Prompt evolution, after the iteration's own call: a call that writes new guidance from the
        best and worst recent children, and the variant it wrote (for plans made after this
        iteration commits). No call when the budget (or a replayed cassette) has no room for it."""
        population, seen = self.population, request.seen_upto
        parent, examples = population.best(seen), population.examples(seen)
        chat = self.prompts.build_writer(request, parent.text, examples.best, examples.worst)
        try:
            answer = await self._call(request.iteration, spec, chat, random.Random(f"{request.seed}:prompt-call"))
        except RunHalted:
            return None, None  # the proposal stands; the run halts at the next call
        record = self._record(spec, PROMPT_OPERATOR, chat, answer)
        reply, error = answer.result.reply, answer.result.error
        if reply is None:
            return Proposal(code=None, failure=f"llm_{error.kind}", detail=str(error), **record), None
        try:
            text = guidance_from(reply.text, population.variants(seen))
        except NoGuidance as exc:
            return Proposal(code=None, response=reply.text, failure="no_guidance", detail=str(exc), **record), None
        written = PromptVariant(f"v{request.iteration}", text, parent.name, request.iteration)
        return Proposal(code=None, response=reply.text, summary=f"wrote prompt variant {written.name}", **record), written

    async def _answer(self, iteration: int, spec: ModelSpec, chat: ChatRequest, rng: random.Random) -> Answer:
        digest = request_hash(spec.name, chat)
        if self._cassette is not None:
            return self._replayed(iteration, spec, digest)
        started = time.monotonic()
        result = await call_with_retries(lambda: self._clients[spec.name].complete(chat), self.settings.retry, rng)
        latency = time.monotonic() - started
        reply = result.reply
        priced = self.prices.price(spec.name) is not None
        cost = self.prices.cost(spec.name, reply.tokens_in, reply.tokens_out) if reply else 0.0
        if self._recorder is not None:
            error = result.error
            self._recorder.add(
                Recorded(
                    iteration, spec.name, digest, reply, error.kind if error else None, str(error or ""),
                    tuple(a.to_json() for a in result.attempts), cost, priced, latency,
                ),
                chat,
            )
        return Answer(result, cost, priced, latency)

    def _replayed(self, iteration: int, spec: ModelSpec, digest: str) -> Answer:
        call = self._cassette.lookup(iteration, digest)
        if call is None:
            raise ReplayExhausted(
                f"replay stopped: {self._cassette.path} has no call for iteration {iteration} with this prompt and "
                f"{spec.name} (the recording ended there, or this run differs from it: same --seed and --workers?)"
            )
        error = ProviderError(call.error_kind, call.error) if call.error_kind else None
        return Answer(CallResult(call.reply, call.attempts, error), call.cost_usd, call.priced, call.latency_s)

    def _record(self, spec: ModelSpec, operator: str, chat: ChatRequest, answer: Answer) -> dict:
        """The accounting of one call, as Proposal fields."""
        reply = answer.result.reply
        return dict(
            proposer=self.name,
            model=spec.name,
            prompt=f"[system]\n{chat.system}\n[user]\n{chat.user}",
            operator=operator,
            attempts=tuple(a if isinstance(a, dict) else a.to_json() for a in answer.result.attempts),
            cost_usd=answer.cost_usd,
            latency_s=answer.latency_s,
            tokens_in=reply.tokens_in if reply else 0,
            tokens_out=reply.tokens_out if reply else 0,
            priced=answer.priced,
        )

    def _proposal(self, request: ProposalRequest, spec: ModelSpec, operator: str, chat: ChatRequest, answer: Answer) -> Proposal:
        reply, error = answer.result.reply, answer.result.error
        record = self._record(spec, operator, chat, answer)
        if reply is None:
            return Proposal(code=None, failure=f"llm_{error.kind}", detail=str(error), **record)
        try:
            code = child_from_answer(request.parent.code, reply.text)
        except PatchError as exc:
            if reply.finish_reason in TRUNCATED:
                detail = f"the answer hit the output cap ({spec.max_tokens} tokens; raise max_tokens): {exc}"
                return Proposal(code=None, response=reply.text, failure="truncated", detail=detail, **record)
            return Proposal(code=None, response=reply.text, failure=exc.reason, detail=str(exc), **record)
        return Proposal(code=code, response=reply.text, summary=f"{operator}: {summary_of(reply.text)}", **record)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        if self._recorder is not None:
            self._recorder.close()
