"""The evaluator API for a user's own problem, as the README documents it: a call-once function
(tests/fixtures/toy) and a per-tick policy driven in lockstep (tests/fixtures/ticker), each from a
folder outside the repository, through `evolve eval` and `evolve run`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_per_tick_problem_outside_the_repository_runs_and_improves(cli, tmp_path):
    folder = tmp_path / "ticker"
    shutil.copytree(FIXTURES / "ticker", folder)
    code, out, err = cli("eval", str(folder), str(folder / "seed.py"), "--json")
    assert code == 0, err
    seed = json.loads(out)
    assert seed["valid"] and 90 < seed["score"] < 100
    code, _, err = cli("run", str(folder), "--iterations", "12", "--seed", "4", "--name", "ticks")
    assert code == 0, err
    status = json.loads(cli("status", "ticks", "--json")[1])
    assert status["seed_score"] == seed["score"]
    assert status["best_score"] >= status["seed_score"]


def test_a_per_tick_answer_outside_its_declared_type_is_rejected_with_the_tick(cli, tmp_path):
    folder = tmp_path / "ticker"
    shutil.copytree(FIXTURES / "ticker", folder)
    bad = folder / "bad.py"
    bad.write_text((folder / "seed.py").read_text().replace("return min(1.0, max(0.0, gain * (self.target - obs.room)))", "return 2.0 if obs.tick == 5 else 0.5"))
    code, out, err = cli("eval", str(folder), str(bad), "--json")
    result = json.loads(out)
    assert result["valid"] is False
    assert "tick 5: decide returned 2, outside 0.0..1.0" in result["stages"]["smoke"]["reason"]


def test_a_call_once_problem_outside_the_repository_scores_through_the_boundary(cli, toy_problem):
    code, out, err = cli("eval", str(toy_problem), str(toy_problem / "good.py"), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["valid"] and result["score"] == 100.0
