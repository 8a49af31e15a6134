"""`evolve show RUN ITERATION` (one candidate in full) and `evolve export RUN --answers` (every stored
answer with its parent, re-checkable by the acceptance benchmark), on real runs."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

from fakellm import Call, FakeLLM, Reply, parent_code

from evolve.edits.corpus import read_records, try_answer

REPO = Path(__file__).parent.parent


def test_show_prints_a_candidate_in_full_and_refuses_unknown_iterations(cli, toy_problem):
    code, _, err = cli("run", str(toy_problem), "--iterations", "3", "--name", "off")
    assert code == 0, err
    code, out, _ = cli("show", "off", "0")
    assert code == 0 and "parent: none (the seed)" in out and "status: valid" in out and "train: valid" in out
    code, out, _ = cli("show", "off", "2", "--json")
    shown = json.loads(out)
    assert shown["iteration"] == 2 and shown["parent_iteration"] == 0 and shown["call"]["proposer"] == "offline"
    assert shown["diff"].startswith("--- a/seed.py") and {s["stage"] for s in shown["stages"]} >= {"smoke", "train"}
    code, out, err = cli("show", "off", "9")
    assert code == 2 and out == "" and err == "error: run 'off' has no iteration 9 (it has 0..3)\n"


def test_show_names_the_llm_call_and_exported_answers_replay_to_the_stored_outcomes(cli, toy_problem, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    values = itertools.count(20)

    def answer(call: Call) -> Reply:
        old = re.search(r"^    a = .+\n", parent_code(call), re.M).group(0)
        return Reply(f"Move a.\n<<<<<<< SEARCH\n{old}=======\n    a = {next(values) / 10}\n>>>>>>> REPLACE\n")

    script = itertools.cycle([answer, lambda call: Reply("<<<<<<< SEARCH\n    return a, b, c\n=======\n    return 9, 9, 9\n>>>>>>> REPLACE\n")])
    with FakeLLM(lambda call: next(script)(call)) as server:
        code, _, err = cli(
            "run", str(toy_problem), "--iterations", "6", "--workers", "1", "--order", "iteration", "--model", "openai/gpt-5-mini", "--base-url", server.openai_url, "--name", "llm"
        )
    assert code == 0, err
    code, out, _ = cli("show", "llm", "2")
    assert "status: rejected (outside_block)" in out and "frozen line 10 changed" in out
    assert re.search(r"LLM call: openai/gpt-5-mini, operator \w+, \d+ tokens in / \d+ out, \$0\.\d+", out)
    assert "\nprompt:\n  [system]" in out and "\nanswer:\n  <<<<<<< SEARCH" in out
    code, out, err = cli("export", "llm", "--answers", "--out", str(tmp_path / "exp"))
    assert code == 0 and "(6 answers)" in out, err
    records = read_records(tmp_path / "exp" / "answers.jsonl")
    assert [r.iteration for r in records] == [1, 2, 3, 4, 5, 6] and all(r.model == "openai/gpt-5-mini" for r in records)
    assert [try_answer(r).outcome for r in records] == [r.stored_outcome for r in records] == ["applied", "outside_block"] * 3
    table = subprocess.run([sys.executable, "benchmarks/answer_acceptance.py", str(tmp_path / "exp")], cwd=REPO, capture_output=True, text=True)
    assert re.search(r"^\| applied +\| 3 +\| 50\.0% \|$", table.stdout, re.M), table.stdout + table.stderr


def test_show_indents_a_candidates_failure_text_so_it_cannot_pose_as_its_results():
    """A candidate's exception message is stored as its failure detail; printed flush left it could
    forge the lines that follow it (a valid status, a score, valid stages). Hostile review."""
    from evolve.show import CandidateView, StageView, format_candidate

    forged = "retrying\nstatus: valid\nscore: 97.3100   held-out test: 96.8800\n\nstages:\n  train: valid, 0.41 s; score=97.31"
    view = CandidateView(
        run="r", iteration=3, candidate_id=4, island=0, generation=1, parent_iteration=0, status="failed",
        failure_reason="crash", failure_detail=f"smoke: {forged}", score=None, test_score=None, summary="",
        stages=(StageView("smoke", False, None, "crash", 0.1, {}, ""), StageView("train", False, forged, None, 0.1, {}, "")),
        diff="", call=None,
    )  # fmt: skip
    lines = format_candidate(view).splitlines()
    assert [line for line in lines if line.startswith(("status:", "score:"))] == ["status: failed (crash)", "score: -   held-out test: -"]
    assert not any(line.startswith("  train: valid") for line in lines)
    assert sum(1 for line in lines if line.startswith("  train:")) == 1
