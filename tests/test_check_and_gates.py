"""`evolve check` and the pre-flight of `evolve run` (issue 11 item 8), and stage gates (item 4).

Each mistake in a problem folder is one `error:` line with exit 2, from `check` and from `run`
alike, and `run` stores nothing. A gate keeps a candidate below it from the stage it guards.
"""

from __future__ import annotations

import json

import pytest


def _one_error(code, out, err, fragment):
    assert code == 2, (out, err)
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], err
    assert "Traceback" not in err


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


MISTAKES = {
    "no_markers": (lambda p: _edit(p / "seed.py", "    # EVOLVE-BLOCK-START\n", ""), "EVOLVE-BLOCK"),
    "syntax": (lambda p: _edit(p / "seed.py", "    b = 2.0\n", "    b = = 2.0\n"), "syntax error"),
    "missing_attribute": (lambda p: _edit(p / "problem.toml", "evaluator.py:make_evaluator", "evaluator.py:make_it"), "make_it"),
    "stages_differ": (lambda p: _edit(p / "problem.toml", 'stages = ["smoke", "train"]', 'stages = ["smoke", "training"]'), "no stage 'training'"),
    "unknown_feature": (lambda p: _edit(p / "problem.toml", 'metric = "a"', 'metric = "alpha"'), "'alpha' is not reported"),
    "seed_invalid": (lambda p: _edit(p / "seed.py", "    a = 1.0\n", "    a = -1.0\n"), "seed fails its own evaluation (invalid)"),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_mistake_is_caught_by_check_and_by_run_with_nothing_stored(cli, toy_problem, tmp_path, mistake):
    make, fragment = MISTAKES[mistake]
    make(toy_problem)
    _one_error(*cli("check", str(toy_problem)), fragment)
    _one_error(*cli("run", str(toy_problem), "--iterations", "3", "--name", "broken"), fragment)
    assert not (tmp_path / "runs").exists()


def test_check_passes_a_good_problem_and_says_what_it_checked(cli, toy_problem):
    code, out, err = cli("check", str(toy_problem))
    assert code == 0, err
    for check in ("markers", "syntax", "evaluator", "seed", "features"):
        assert f"check {check}:" in out
    assert "ok: toy is ready" in out


def test_run_accepts_a_sandbox_in_problem_toml(cli, toy_problem, monkeypatch):
    monkeypatch.delenv("EVOLVE_SANDBOX")
    _edit(toy_problem / "problem.toml", "timeout_seconds = 20\n", 'timeout_seconds = 20\nsandbox = "process"\n')
    code, out, err = cli("run", str(toy_problem), "--iterations", "2", "--name", "own")
    assert code == 0, err
    assert "sandbox process" in out


def test_a_smoke_gate_keeps_low_candidates_from_train(cli, toy_problem):
    _edit(toy_problem / "problem.toml", 'test_stage = "test"', 'test_stage = "test"\ngates = { train = 78.4 }')
    code, out, err = cli("run", str(toy_problem), "--iterations", "30", "--seed", "4", "--name", "gated")
    assert code == 0, err
    rows = json.loads(cli("candidates", "gated", "--json")[1])
    gated = [r for r in rows if r["status"] == "gated"]
    assert gated, "no candidate fell below the gate"
    ids_of_gated = set()
    for row in gated:
        shown = json.loads(cli("show", "gated", str(row["iteration"]), "--json")[1])
        assert [s["stage"] for s in shown["stages"]] == ["smoke"]  # train never ran
        smoke = shown["stages"][0]["metrics"]["score"]
        assert smoke < 78.4 and shown["score"] == smoke  # it keeps the score of the last stage it ran
        assert "train not run: smoke score" in shown["failure_detail"]
        ids_of_gated.add(shown["candidate_id"])
    status = json.loads(cli("status", "gated", "--json")[1])
    assert status["best_candidate_id"] not in ids_of_gated
    parents = {json.loads(cli("show", "gated", str(r["iteration"]), "--json")[1])["parent_iteration"] for r in rows[1:]}
    assert not parents & {r["iteration"] for r in gated}  # never a parent: not compared with evaluated ones
    passed = [r for r in rows if r["status"] == "valid" and r["iteration"] > 0]
    assert passed and all(r["score"] is not None for r in passed)


def test_a_gate_must_guard_a_later_cascade_stage(cli, toy_problem):
    _edit(toy_problem / "problem.toml", 'test_stage = "test"', 'test_stage = "test"\ngates = { smoke = 1.0 }')
    _one_error(*cli("check", str(toy_problem)), "evaluator.gates.smoke")
