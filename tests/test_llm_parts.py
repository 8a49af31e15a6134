"""The LLM proposer's parts: model choice, operators, prompts, prices, budgets and cassettes."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import pytest

from evolve.edits.answer import child_from_answer
from evolve.errors import BudgetExhausted, ConfigError, PatchError, ProblemError
from evolve.problem import load_problem
from evolve.proposers.base import Feedback, ProgramView, ProposalRequest
from evolve.proposers.llm.budget import Ledger
from evolve.proposers.llm.cassette import Cassette, Recorded, Recorder
from evolve.proposers.llm.chooser import ModelChooser
from evolve.proposers.llm.operators import choose_operator, summary_of
from evolve.proposers.llm.pricing import PriceTable
from evolve.proposers.llm.prompting import PromptBuilder
from evolve.proposers.llm.specs import ModelSpec, OperatorMix, parse_model_arg
from evolve.proposers.llm.wire import ChatReply, ChatRequest

A, B = ModelSpec(name="openai/a"), ModelSpec(name="anthropic/b", weight=3)
SEED = "x = 1\n# EVOLVE-BLOCK-START\ny = 2\n# EVOLVE-BLOCK-END\nz = 3\n"


def request(**extra) -> ProposalRequest:
    parent = ProgramView(1, SEED, 10.0, {"score": 10.0}, "worst: case 7")
    return ProposalRequest(iteration=3, island=0, parent=parent, inspirations=(), seed="0:3:propose", **extra)


def test_weights_split_calls_by_weight():
    chooser = ModelChooser((A, B), "weights", 0.5)
    picks = Counter(chooser.choose(random.Random(i), 0).name for i in range(2000))
    assert 0.70 < picks[B.name] / 2000 < 0.80


def test_the_bandit_prefers_the_improving_model_and_only_sees_committed_feedback():
    chooser = ModelChooser((A, B), "bandit", 0.0)
    for i in range(1, 21):
        model = A if i % 2 else B
        chooser.observe(Feedback(i, model.name, 0.01, 1.0 if model is A else None, position=i))
    assert chooser.choose(random.Random(0), seen_upto=20).name == A.name
    assert chooser.stats(seen_upto=4)[A.name].pulls == 2  # later feedback is invisible to an earlier plan


def test_the_bandit_discounts_dearer_models_but_not_unpriced_ones():
    chooser = ModelChooser((A, B), "bandit", 1.0)
    for i in range(1, 21):
        model = A if i % 2 else B
        chooser.observe(Feedback(i, model.name, 0.10 if model is A else 0.01, 1.0, position=i))
    assert chooser.choose(random.Random(0), 20).name == B.name  # same reward, a tenth of the price
    unpriced = ModelChooser((A, B), "bandit", 1.0)
    for i in range(1, 21):
        model = A if i % 2 else B
        unpriced.observe(Feedback(i, model.name, 0.10 if model is A else 0.0, 1.0 if model is A else 0.2, priced=model is A, position=i))
    assert unpriced.choose(random.Random(0), 20).name == A.name  # unknown dollars are not "free"


def test_operators_drop_out_when_they_have_nothing_to_work_on():
    mix = OperatorMix(diff=0, rewrite=0, crossover=1, repair=1)
    with pytest.raises(ValueError):
        OperatorMix(diff=0, rewrite=0, crossover=0, repair=1)
    failed = ProgramView(2, SEED, None, error="crash: ZeroDivisionError")
    assert {choose_operator(mix, request(failed=failed), random.Random(i)) for i in range(20)} == {"repair"}


def test_answers_become_children_only_inside_the_blocks():
    diff = "Raise y.\n<<<<<<< SEARCH\ny = 2\n=======\ny = 5\n>>>>>>> REPLACE\n"
    assert child_from_answer(SEED, diff) == SEED.replace("y = 2", "y = 5")
    rewrite = "New y.\n```python\n" + SEED.replace("y = 2", "y = 9") + "```\n"
    assert child_from_answer(SEED, rewrite) == SEED.replace("y = 2", "y = 9")  # formats may be mixed up
    cases = {
        "": "empty_response",
        "just words": "no_code",
        "<<<<<<< SEARCH\nz = 3\n=======\nz = 4\n>>>>>>> REPLACE\n": "outside_block",
        "<<<<<<< SEARCH\ny = 3\n=======\ny = 4\n>>>>>>> REPLACE\n": "unmatched_search",
        "```python\n" + SEED.replace("x = 1", "x = 0") + "```": "outside_block",
    }
    for answer, reason in cases.items():
        with pytest.raises(PatchError) as caught:
            child_from_answer(SEED, answer)
        assert caught.value.reason == reason, answer


def test_the_summary_is_the_first_prose_line_past_tags_and_markers():
    assert summary_of("<NAME>\nidle_first\n</NAME>\n<DESCRIPTION>\nIdle first.\n</DESCRIPTION>") == "idle_first"
    assert summary_of("```python\n# python\n<<<<<<< SEARCH\nx = 1\n") == "x = 1"
    assert summary_of("") == ""


def test_every_operator_renders_with_the_context_feedback_and_regions(toy_problem):
    problem = load_problem(toy_problem)
    builder = PromptBuilder(problem.name, problem.description, "score", True, problem.root)
    insp = ProgramView(5, problem.seed_code.replace("a = 1.0", "a = 2.0"), 12.5)
    failed = ProgramView(6, problem.seed_code, None, error="crash: boom at line 3")
    req = ProposalRequest(
        iteration=1, island=0, parent=ProgramView(1, problem.seed_code, 78.5, {"score": 78.5}, "a=1.000 b=2.000"),
        inspirations=(insp,), seed="s", context=problem.context, failed=failed,
    )
    prompts = {op: builder.build(op, req) for op in ("diff", "rewrite", "crossover", "repair")}
    for op, chat in prompts.items():
        assert "score" in chat.system and problem.context.strip()[:40] in chat.user
        assert "## Current program (score = 78.5000)" in chat.user and "    a = 1.0" in chat.user
    assert "Evaluator feedback:\na=1.000 b=2.000" in prompts["diff"].user
    assert "SEARCH" in prompts["diff"].user and "fenced block" in prompts["rewrite"].user
    assert "## Second parent (score = 12.5000)" in prompts["crossover"].user
    assert "crash: boom at line 3" in prompts["repair"].user
    assert "Program 1 (score = 12.5000)" in prompts["diff"].user


def test_a_problem_can_override_a_template_and_a_broken_one_fails_early(toy_problem):
    (toy_problem / "prompts").mkdir()
    (toy_problem / "prompts" / "diff.j2").write_text("Only this: {{ parent.code }}")
    builder = PromptBuilder("toy", "", "score", True, toy_problem)
    assert builder.build("diff", request()).user == f"Only this: {SEED}"
    assert "EVOLVE-BLOCK" in builder.build("rewrite", request()).user  # the others are still shipped
    (toy_problem / "prompts" / "repair.j2").write_text("{% if %}")
    with pytest.raises(ProblemError, match="repair.j2"):
        PromptBuilder("toy", "", "score", True, toy_problem)


def test_prices_come_from_the_table_with_overrides_and_wildcards():
    table = PriceTable.load({"openai/gpt-5-mini": (1.0, 1.0)})
    assert table.cost("openai/gpt-5-mini", 1_000_000, 1_000_000) == 2.0
    assert table.cost("anthropic/claude-sonnet-4-5", 1000, 1000) == pytest.approx((3000 + 15000) / 1e6)
    assert table.cost("vllm/anything", 10**6, 10**6) == 0.0 and table.price("vllm/anything") is not None
    assert table.price("openai/unknown-model") is None and table.cost("openai/unknown-model", 10, 10) == 0.0


def test_the_ledger_refuses_a_call_whose_worst_case_could_break_a_budget():
    async def scenario():
        ledger = Ledger(max_cost_usd=1.0, max_tokens=None, spent_usd=0.5)
        held = await ledger.reserve(0.4, 100)
        waiting = asyncio.ensure_future(ledger.reserve(0.2, 100))  # 0.5 + 0.4 held + 0.2 > 1.0: waits
        await asyncio.sleep(0.01)
        assert not waiting.done()
        await ledger.settle(held, 0.1, 50)  # the held call cost less than its worst case
        second = await waiting
        assert ledger.spent_usd == pytest.approx(0.6)
        await ledger.settle(second, 0.2, 50)
        with pytest.raises(BudgetExhausted, match="cost budget"):
            await ledger.reserve(0.3, 100)  # 0.8 spent + 0.3 > 1.0 with nothing else in flight
        tokens = Ledger(None, max_tokens=1000, spent_tokens=900)
        with pytest.raises(BudgetExhausted, match="token budget"):
            await tokens.reserve(0.0, 101)

    asyncio.run(scenario())


def test_llm_layers_merge_tables_key_by_key_and_reject_negative_prices():
    from evolve.llm_config import build_llm

    problem = {"models": [{"name": "openai/a"}], "prices": {"openai/a": [1, 2]}, "operators": {"diff": 1.0}}
    file = {"prices": {"openai/b": [3, 4]}, "operators": {"rewrite": 0.5}}
    merged = build_llm([problem, file], [], None, None)
    assert set(merged.prices) == {"openai/a", "openai/b"}
    assert (merged.operators.diff, merged.operators.rewrite) == (1.0, 0.5)
    with pytest.raises(ConfigError, match="negative"):
        build_llm([{"models": [{"name": "openai/a"}], "prices": {"openai/a": [-1, 2]}}], [], None, None)


def test_model_arguments_parse_weights():
    assert parse_model_arg("anthropic/claude-sonnet-4-5=0.2") == {"name": "anthropic/claude-sonnet-4-5", "weight": 0.2}
    assert parse_model_arg("openrouter/google/gemini-2.5-pro") == {"name": "openrouter/google/gemini-2.5-pro"}
    assert ModelSpec(name="openrouter/google/gemini-2.5-pro").model == "google/gemini-2.5-pro"


def test_a_cassette_survives_a_torn_last_line_and_rejects_foreign_files(tmp_path):
    path = tmp_path / "c.jsonl"
    recorder = Recorder(path, {"settings": {}})
    chat = ChatRequest("s", "u")
    recorder.add(Recorded(1, "openai/a", "h1", ChatReply("t", 3, 4), None, "", ({"outcome": "ok"},), 0.5, True, 0.1), chat)
    recorder.close()
    with open(path, "a") as handle:
        handle.write('{"iteration": 2, "mod')
    cassette = Cassette(path)
    assert len(cassette) == 1 and cassette.lookup(1, "h1").reply.text == "t" and cassette.lookup(2, "h1") is None
    assert json.loads(path.read_text().splitlines()[1])["user"] == "u"

    with pytest.raises(ConfigError, match="already holds a recording"):
        Recorder(path, {"settings": {}})  # a new run never appends to an old recording
    with pytest.raises(ConfigError, match="another run"):
        Recorder(path, {"settings": {"x": 1}}, resume=True)
    again = Recorder(path, {"settings": {}}, resume=True)  # the same run, resumed after a crash
    again.add(Recorded(2, "openai/a", "h2", ChatReply("u", 1, 1), None, "", (), 0.1, True, 0.1), chat)
    again.close()
    assert Cassette(path).lookup(2, "h2").reply.text == "u"
    foreign = tmp_path / "other.jsonl"
    foreign.write_text('{"hello": 1}\n')
    with pytest.raises(ConfigError, match="not an evolve cassette"):
        Cassette(foreign)
    with pytest.raises(ConfigError, match="not an evolve cassette"):
        Recorder(foreign, {})


def test_a_recorded_failed_call_replays_as_the_same_failure(tmp_path, toy_problem):
    from fakellm import Fault, FakeLLM

    from evolve.proposers.llm.proposer import LlmProposer
    from evolve.proposers.llm.providers import make_client
    from evolve.proposers.llm.specs import LlmSettings, RetryPolicy

    problem = load_problem(toy_problem)
    prompts = PromptBuilder(problem.name, problem.description, "score", True, problem.root)
    req = ProposalRequest(iteration=4, island=0, parent=ProgramView(1, problem.seed_code, 78.5), inspirations=(), seed="s")
    with FakeLLM(lambda call: Fault(503)) as server:
        spec = ModelSpec(name="openai/m", base_url=server.openai_url, timeout_seconds=5)
        settings = LlmSettings(models=(spec,), retry=RetryPolicy(max_attempts=2, base_seconds=0.01))
        cassette = tmp_path / "c.jsonl"
        live = LlmProposer(
            settings, prompts, PriceTable.load(), Ledger(None, None),
            clients={spec.name: make_client(spec, {"OPENAI_API_KEY": "k"})}, recorder=Recorder(cassette, {"settings": {}}),
        )
        async def once():
            try:
                return await live.propose(req)
            finally:
                await live.aclose()

        recorded = asyncio.run(once())
    replay = LlmProposer(settings, prompts, PriceTable.load(), Ledger(None, None), cassette=Cassette(cassette))
    replayed = asyncio.run(replay.propose(req))
    assert recorded.failure == replayed.failure == "llm_server_error"
    assert len(recorded.attempts) == len(replayed.attempts) == 2 and replayed.detail == recorded.detail
