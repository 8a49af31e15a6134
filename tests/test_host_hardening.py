"""What the host stores and shows stays honest even when a path around the worker existed: scores
re-checked where they are stored, candidate text escaped on the terminal, workloads private."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from evaluators.protocol import StageResult
from evolve.problem import load_problem
from evolve.verdict import judge
from sandboxes.base import Outcome, StageOutcome

REPO = Path(__file__).parent.parent


def test_a_stored_score_is_range_checked_again_where_it_is_judged(toy_problem):
    toml = toy_problem / "problem.toml"
    toml.write_text(toml.read_text().replace('direction = "maximize"', 'direction = "maximize"\nrange = [0, 100]'))
    problem = load_problem(toy_problem)
    forged = Outcome(stages=(StageOutcome("smoke", StageResult({"score": 1.0})), StageOutcome("train", StageResult({"score": 1e9}))))
    verdict = judge(forged, problem)
    assert verdict.status == "failed" and verdict.failure_reason == "invalid_output" and verdict.score is None
    infinite = Outcome(stages=(StageOutcome("smoke", StageResult({"score": float("inf")})),))
    assert judge(infinite, problem).status == "failed"


def test_control_characters_in_candidate_code_are_escaped_on_the_terminal(cli, toy_problem):
    seed = toy_problem / "seed.py"
    seed.write_text(seed.read_text().replace('"""Toy program', '"""\x1b[2K\x1b[1AToy program'))
    code, _, err = cli("run", str(toy_problem), "--iterations", "1", "--name", "esc")
    assert code == 0, err
    _, out, _ = cli("best", "esc")
    assert "\x1b" not in out and "\\x1b[2K\\x1b[1AToy program" in out
    _, out, _ = cli("show", "esc", "0")
    assert "\x1b" not in out
    _, out, _ = cli("best", "esc", "--json")
    assert "\x1b[2K" in json.loads(out)["code"]  # the data itself is untouched


def test_runs_score_on_private_workloads_unless_asked(cli, tmp_path, monkeypatch):
    """The same seed on this machine gives the same private workloads (reproducible); they differ
    from the published ones, which `evolve eval` and `--workloads public` use."""
    monkeypatch.setenv("EVOLVE_WORKLOAD_KEY", "test-machine-key")
    problem = tmp_path / "spot"
    shutil.copytree(REPO / "problems" / "spot_single", problem)
    toml = problem / "problem.toml"
    toml.write_text(toml.read_text().replace("params = {}", "params = { train_windows = 2, test_windows = 2 }"))
    seed_scores = {}
    for name, extra in (("a", ()), ("b", ()), ("public", ("--workloads", "public"))):
        code, _, err = cli("run", str(problem), "--iterations", "0", "--seed", "7", "--name", name, *extra)
        assert code == 0, err
        seed_scores[name] = json.loads(cli("status", name, "--json")[1])["seed_score"]
    code, out, err = cli("eval", str(problem), str(problem / "seed.py"), "--json")
    assert code == 0, err
    assert seed_scores["a"] == seed_scores["b"] != seed_scores["public"] == json.loads(out)["score"]
    monkeypatch.setenv("EVOLVE_WORKLOAD_KEY", "another-machine")
    code, _, err = cli("run", str(problem), "--iterations", "0", "--seed", "7", "--name", "elsewhere")
    assert code == 0, err
    assert json.loads(cli("status", "elsewhere", "--json")[1])["seed_score"] != seed_scores["a"]
