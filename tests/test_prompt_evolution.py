"""Prompt evolution against the fake server: an LLM writes system-prompt guidance from the best and
worst recent children, the variants are stored, the bandit shifts toward the guidance that works,
`evolve show` names the variant of a child, and a replay reproduces every variant."""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
from pathlib import Path

from fakellm import Call, FakeLLM, Reply, parent_code

MODEL = "openai/gpt-good"
GOOD_HINT, BAD_HINT = "STEP-BIG", "STEP-NONE"
TASKS = (
    "Propose an improvement to the current program as a small, targeted change.",
    "Suggest one focused change to the current program that should raise its score.",
    "Improve the current program with a small, well-aimed edit.",
)


class Coach:
    """Proposal calls improve `a` only under guidance with the good hint; writer calls alternate
    between good and bad guidance."""

    def __init__(self):
        self.steps = itertools.count(1)
        self.hints = itertools.cycle([GOOD_HINT, BAD_HINT])
        self.writer_prompts: list[str] = []

    def __call__(self, call: Call) -> Reply:
        if call.system.startswith("You coach"):
            self.writer_prompts.append(call.user)
            hint, n = next(self.hints), len(self.writer_prompts)
            return Reply(f"New guidance:\n```\n- {hint} (take {n}): move `a` {'boldly up' if hint == GOOD_HINT else 'down'}.\n```\n")
        line = re.search(r"^    a = (.+)$", parent_code(call), re.M)
        a, step = float(line.group(1)), next(self.steps)
        new = a + 1 + step / 1000 if GOOD_HINT in call.system else a - 0.05 - step / 1000  # better / worse
        return Reply(f"Move a.\n<<<<<<< SEARCH\n{line.group(0)}\n=======\n    a = {new:.6f}\n>>>>>>> REPLACE\n")


def score_is_a(problem: Path) -> None:
    """The toy scored by `a` alone: every good step improves by about 1, every bad one loses."""
    evaluator = problem / "evaluator.py"
    text = evaluator.read_text().replace("score = 100.0 - (a - oa) ** 2 - (b - ob) ** 2 - (c - oc) ** 2", "score = a")
    evaluator.write_text(text)


def config(path: Path, server: FakeLLM) -> Path:
    path.write_text(
        "[llm]\nprompt_evolution = true\nprompt_interval = 8\nprompt_population = 3\n"
        '[llm.operators]\ndiff = 1.0\nrewrite = 0.0\ncrossover = 0.0\nrepair = 0.0\n'
        f'[[llm.models]]\nname = "{MODEL}"\nbase_url = "{server.openai_url}"\n'
        f'[llm.prices]\n"{MODEL}" = [1.0, 2.0]\n'
    )
    return path


def variants_of(tmp_path: Path, run: str) -> list[tuple]:
    db = sqlite3.connect(tmp_path / "runs" / run / "evolve.db")
    return db.execute("SELECT name, parent, iteration, text FROM prompt_variants WHERE candidate_id IS NOT NULL ORDER BY iteration").fetchall()


def calls_of(tmp_path: Path, run: str) -> list[tuple]:
    db = sqlite3.connect(tmp_path / "runs" / run / "evolve.db")
    return db.execute(
        "SELECT c.iteration, c.status, c.code_hash, p.prompt_variant, p.operator FROM candidates c "
        "JOIN proposals p ON c.proposal_id = p.id ORDER BY c.iteration"
    ).fetchall()


def test_prompt_variants_are_written_chosen_stored_shown_and_replayed(cli, toy_problem, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    score_is_a(toy_problem)
    coach = Coach()
    cassette = tmp_path / "calls.jsonl"
    with FakeLLM(coach) as server:
        code, out, err = cli(
            "run", str(toy_problem), "--iterations", "40", "--workers", "2", "--order", "iteration", "--config", str(config(tmp_path / "llm.toml", server)),
            "--record", str(cassette), "--name", "meta",
        )
        proposal_calls = [c for c in server.calls if not c.system.startswith("You coach")]
    assert code == 0, err
    variants = variants_of(tmp_path, "meta")
    assert [(n, i) for n, _, i, _ in variants][:2] == [("v8", 8), ("v16", 16)]
    assert GOOD_HINT in variants[0][3] and BAD_HINT in variants[1][3] and variants[0][1] == "base"
    # the writer was shown the best and the worst recent children
    assert "The best (higher `score` than their parent)" in coach.writer_prompts[-1] and "The worst:" in coach.writer_prompts[-1]
    # the system prompts changed, and so did the wording of the task
    guidance = {c.system.partition("# Guidance for this run")[2] for c in proposal_calls}
    assert len(guidance) >= 3 and "" in guidance
    assert sum(any(t in c.user for c in proposal_calls) for t in TASKS) >= 2
    # the bandit shifts toward guidance with the good hint
    texts = {n: t for n, _, _, t in variants}
    good = [GOOD_HINT in texts.get(v, "") for _, _, _, v, _ in calls_of(tmp_path, "meta")]
    assert not any(good[:9]) and sum(good[9:]) >= 0.7 * len(good[9:]), good  # v8 (iteration 8) is in play from 10
    summary = json.loads(cli("status", "meta", "--json")[1])
    stats = {v["name"]: v for v in summary["prompt_variants"]}
    assert stats["v8"]["improved"] >= 3 and stats["v16"]["improved"] == 0 and stats["base"]["calls"] >= 2
    assert summary["models"][0]["prompt_calls"] == len(variants) and summary["proposer_calls"] == 40 + len(variants)
    code, table, _ = cli("status", "meta")
    row = [stats["v8"][k] for k in ("calls", "valid", "improved")]
    assert re.search(r"v8[ │]+base[ │]+8[ │]+{}[ │]+{}[ │]+{}[ │]".format(*row), table), table
    # evolve show names the variant of a child it produced
    child = next(i for i, _, _, v, _ in calls_of(tmp_path, "meta") if v == "v8" and i != 8)
    code, shown, _ = cli("show", "meta", str(child))
    assert code == 0 and f"prompt variant: v8, whose guidance is:\n  - {GOOD_HINT}" in shown
    assert json.loads(cli("show", "meta", str(child), "--json")[1])["call"]["prompt_variant"] == "v8"
    code, shown, _ = cli("show", "meta", "8")
    assert "this iteration also wrote prompt variant v8, for later iterations" in shown
    # a replay reproduces the variants and the lineage from the cassette alone
    code, _, err = cli("run", str(toy_problem), "--model", f"replay/{cassette}", "--name", "again")
    assert code == 0, err
    assert variants_of(tmp_path, "again") == variants and calls_of(tmp_path, "again") == calls_of(tmp_path, "meta")


def test_without_prompt_evolution_no_variant_is_written_or_recorded(cli, toy_problem, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    coach = Coach()
    with FakeLLM(coach) as server:
        path = config(tmp_path / "llm.toml", server)
        path.write_text(path.read_text().replace("prompt_evolution = true", "prompt_evolution = false"))
        code, _, err = cli("run", str(toy_problem), "--iterations", "9", "--config", str(path), "--name", "plain")
        assert code == 0, err
        assert not coach.writer_prompts and all("# Guidance" not in c.system and TASKS[0] in c.user for c in server.calls)
    assert variants_of(tmp_path, "plain") == [] and {v for *_, v, _ in calls_of(tmp_path, "plain")} == {""}
    assert "prompt_variants" not in json.loads(cli("status", "plain", "--json")[1])


def test_resume_rebuilds_the_prompt_population_exactly(cli, toy_problem, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    score_is_a(toy_problem)
    runs = {}
    for name, sessions in [("whole", ["24"]), ("halves", ["12", "24"])]:
        with FakeLLM(Coach()) as server:
            path = config(tmp_path / f"{name}.toml", server)
            path.write_text(path.read_text().replace("prompt_interval = 8", "prompt_interval = 4"))
            code, _, err = cli(  # one call at a time: the coach answers in call order
                    "run", str(toy_problem), "--iterations", sessions[0], "--workers", "1", "--order", "iteration", "--config", str(path), "--name", name
                )
            assert code == 0, err
            for total in sessions[1:]:
                code, _, err = cli("resume", name, "--iterations", total)
                assert code == 0, err
        runs[name] = (variants_of(tmp_path, name), calls_of(tmp_path, name))
    assert runs["halves"] == runs["whole"]
    assert [v[0] for v in runs["whole"][0]] == ["v8", "v12", "v16", "v20", "v24"]
