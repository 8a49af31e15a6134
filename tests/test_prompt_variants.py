"""Prompt evolution's parts: the variant population and its choices, the writer's answer, and the
templates' varied wording (all pure functions of committed feedback and a seed)."""

from __future__ import annotations

import random

import pytest

from evolve.problem import load_problem
from evolve.proposers.base import Feedback, ProgramView, PromptVariant, ProposalRequest
from evolve.proposers.llm.prompting import PromptBuilder
from evolve.proposers.llm.variants import BASE, NoGuidance, PromptPopulation, guidance_from


def feedback(i: int, variant: str, improvement: float | None, written: PromptVariant | None = None, status="valid") -> Feedback:
    return Feedback(i, "m", 0.0, improvement, prompt_variant=variant, new_variant=written, status=status,
                    reason="" if status == "valid" else "outside_block: frozen line 3 changed", summary=f"child {i}", score=1.0,
                    position=i)


def grown() -> PromptPopulation:
    """base fails for 4 iterations, then v5 (good) and v9 (bad) are written and tried."""
    population = PromptPopulation(size=2, interval=4)
    good, bad = PromptVariant("v5", "be bold", "base", 5), PromptVariant("v9", "be timid", "v5", 9)
    for i in range(1, 5):
        population.observe(feedback(i, "base", None, status="rejected"))
    for i, variant, gain, written in [(5, "v5", 1.0, good), (6, "v5", 0.8, None), (7, "base", -0.1, None),
                                      (8, "base", -0.2, None), (9, "v9", -0.5, bad), (10, "v9", -0.3, None)]:
        population.observe(feedback(i, variant, gain, written))
    return population


def test_variants_exist_only_for_plans_made_after_their_iteration_committed():
    population = grown()
    assert [v.name for v in population.variants(4)] == ["base"]
    assert [v.name for v in population.variants(9)] == ["base", "v5", "v9"]
    assert population.choose(random.Random(0), 4) == BASE


def test_the_population_keeps_the_best_variants_in_play_and_the_bandit_prefers_them():
    population = grown()
    assert [v.name for v in population.in_play(10)] == ["base", "v5"]  # size 2: v9 is retired
    assert population.best(10).name == "v5"
    picks = [population.choose(random.Random(seed), 10).name for seed in range(50)]
    assert picks.count("v5") > picks.count("base")
    assert picks == [population.choose(random.Random(seed), 10).name for seed in range(50)]  # reproducible


def test_a_new_variant_is_due_every_interval_once_there_are_children_to_learn_from():
    population = grown()
    assert not population.due(4, seen_upto=3)  # three children are too few
    assert population.due(12, seen_upto=10) and not population.due(13, seen_upto=10)
    examples = population.examples(10)
    assert [f.iteration for f in examples.best] == [5, 6]
    assert [f.iteration for f in examples.worst] == [4, 3, 2]  # failures first, most recent first


def test_the_writers_guidance_is_its_largest_fence_and_must_be_new():
    known = [BASE, PromptVariant("v5", "be bold", "base", 5)]
    assert guidance_from("Here:\n```\n- try X\n- avoid Y\n```\nand `inline`\n```\nz\n```", known) == "- try X\n- avoid Y"
    for answer, message in [("no fence", "no ``` fenced block"), ("```\nbe bold\n```", "same as v5's"),
                            ("```\n" + "x" * 5000 + "\n```", "5000 characters")]:
        with pytest.raises(NoGuidance, match=message):
            guidance_from(answer, known)


def test_wording_varies_only_when_asked_and_guidance_lands_in_the_system_prompt(toy_problem):
    problem = load_problem(toy_problem)
    builder = PromptBuilder(problem.name, problem.description, "score", True, problem.root)
    request = ProposalRequest(1, 0, ProgramView(1, problem.seed_code, 1.0), (), "s")
    fixed = {builder.build("diff", request).user for _ in range(5)}
    varied = {builder.build("diff", request, wording=random.Random(seed)).user for seed in range(20)}
    assert len(fixed) == 1 and len(varied) >= 2
    assert builder.build("diff", request, wording=random.Random(3)) == builder.build("diff", request, wording=random.Random(3))
    chat = builder.build("diff", request, guidance="- be bold")
    assert chat.system.endswith("# Guidance for this run\n- be bold\n")
    worst = (feedback(4, "base", None, status="rejected"),)
    writer = builder.build_writer(request, "- be bold", (feedback(5, "v5", 1.5),), worst)
    assert writer.system.startswith("You coach") and "- be bold" in writer.user
    assert "iteration 5 (prompt v5): child 5; score 1, better by 1.5" in writer.user
    assert "iteration 4 (prompt base): child 4; rejected: outside_block: frozen line 3 changed" in writer.user
