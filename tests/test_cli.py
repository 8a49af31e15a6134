"""The CLI: reporting commands, and user mistakes as one line with exit code 2 and nothing lost."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evolve.cli import app

README = Path(__file__).parent.parent / "README.md"


def test_run_status_best_export_eval(cli, toy_problem, tmp_path):
    code, out, err = cli("run", str(toy_problem), "--iterations", "6", "--seed", "3", "--name", "t")
    assert code == 0, err
    assert "finished" in out

    code, out, _ = cli("status", "t", "--json")
    status = json.loads(out)
    assert code == 0
    for key in ("run_id", "state", "iterations_done", "iterations_requested", "seed_score", "best_score",
                "best_candidate_id", "best_test_score"):
        assert key in status
    assert status["state"] == "finished"
    assert status["iterations_done"] == status["iterations_requested"] == 6
    assert status["best_score"] >= status["seed_score"]

    code, out, _ = cli("best", "t", "--json")
    assert code == 0 and "def params" in json.loads(out)["code"]

    code, out, _ = cli("export", "t", "--out", str(tmp_path / "exp"))
    assert code == 0
    meta = json.loads((tmp_path / "exp" / "best.json").read_text())
    assert meta["best"]["candidate_id"] == status["best_candidate_id"]
    assert meta["lineage"][0]["iteration"] == 0 and meta["lineage"][-1]["iteration"] == status["best_iteration"]

    code, out, _ = cli("eval", str(toy_problem), str(toy_problem / "good.py"), "--json")
    result = json.loads(out)
    assert code == 0 and result["valid"] is True
    assert set(result["stages"]) == {"smoke", "train", "test"}
    assert result["stages"]["train"]["score"] == pytest.approx(100.0)
    assert result["stages"]["test"]["score"] < 100.0

    code, out, _ = cli("status", "--json")
    assert [r["name"] for r in json.loads(out)] == ["t"]


def _one_line_error(code, out, err, *fragments):
    assert code == 2, (out, err)
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_missing_problem(cli):
    _one_line_error(*cli("run", "no/such/problem"), "no/such/problem", "not found")


def test_malformed_toml(cli, toy_problem):
    (toy_problem / "problem.toml").write_text("name = [unclosed\n")
    _one_line_error(*cli("run", str(toy_problem)), "problem.toml", "malformed TOML")


def test_unknown_run(cli):
    for command in ("status", "resume", "best", "export"):
        _one_line_error(*cli(command, "ghost"), "ghost")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--iterations", "-3"], "iterations"),
        (["--workers", "0"], "workers"),
        (["--sandbox", "teleport"], "sandbox"),
        (["--iterations", "many"], "--iterations"),
        (["--frobnicate"], "frobnicate"),
        (["--name", "../escape"], "run name"),
    ],
)
def test_bad_options(cli, toy_problem, args, fragment):
    _one_line_error(*cli("run", str(toy_problem), *args), fragment)


def test_existing_run_is_not_touched(cli, toy_problem):
    assert cli("run", str(toy_problem), "--iterations", "3", "--name", "keep")[0] == 0
    before = cli("status", "keep", "--json")[1]
    _one_line_error(*cli("run", str(toy_problem), "--iterations", "3", "--name", "keep"), "already exists")
    assert json.loads(cli("status", "keep", "--json")[1]) == json.loads(before)


def test_eval_missing_file(cli, toy_problem):
    _one_line_error(*cli("eval", str(toy_problem), "nope.py"), "nope.py")


def test_every_command_has_help_and_is_documented(cli):
    readme = README.read_text()
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert {"run", "resume", "status", "best", "export", "eval", "problems"} <= set(names)
    for name in names:
        code, out, _ = cli(name, "--help")
        assert code == 0 and "Usage" in out
        assert re.search(rf"evolve {name}\b", readme), f"README does not document 'evolve {name}'"


def test_store_at_any_sqlalchemy_url(cli, toy_problem, tmp_path):
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    code, _, err = cli("run", str(toy_problem), "--iterations", "3", "--name", "remote", "--db", url)
    assert code == 0, err
    assert (tmp_path / "elsewhere.db").is_file()
    assert not (tmp_path / "runs" / "remote" / "evolve.db").exists()
    status = json.loads(cli("status", "remote", "--json", "--db", url)[1])
    assert status["iterations_done"] == 3
    assert [r["name"] for r in json.loads(cli("status", "--json", "--db", url)[1])] == ["remote"]
    assert cli("resume", "remote", "--iterations", "5", "--db", url)[0] == 0
    assert json.loads(cli("status", "remote", "--json", "--db", url)[1])["iterations_done"] == 5
    _one_line_error(*cli("status", "ghost", "--db", url), "ghost")


def test_a_db_that_is_a_file_path_is_that_sqlite_file(cli, toy_problem, tmp_path):
    """`--db team.db` (no `://`) means a SQLite file, relative to where the command runs."""
    code, out, err = cli("run", str(toy_problem), "--iterations", "2", "--name", "p", "--db", "team.db")
    assert code == 0, err
    assert (tmp_path / "team.db").is_file() and not (tmp_path / "runs").exists()
    assert f"--db sqlite:///{tmp_path.resolve() / 'team.db'}" in out  # the next step names the same file, wherever it runs
    assert json.loads(cli("status", "p", "--json", "--db", str(tmp_path / "team.db"))[1])["iterations_done"] == 2
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
    _one_line_error(*cli("status", "--db", "junk.db"), "file is not a database")


def test_non_utf8_program(cli, toy_problem, tmp_path):
    (tmp_path / "latin1.py").write_bytes(b"x = '\xe9'\n")
    _one_line_error(*cli("eval", str(toy_problem), str(tmp_path / "latin1.py")), "not UTF-8")


def test_database_trouble_is_one_line(cli, toy_problem, tmp_path):
    _one_line_error(*cli("status", "x", "--db", "nosuchdialect://host/db"), "cannot use database URL")
    (tmp_path / "runs" / "junk").mkdir(parents=True)
    (tmp_path / "runs" / "junk" / "evolve.db").write_bytes(b"this is not sqlite" * 100)
    _one_line_error(*cli("status", "junk"), "cannot open database")
    code, out, err = cli("status")  # the listing names the broken folder and goes on
    assert code == 0 and "cannot open database" in err and "Traceback" not in err


def test_paths_that_are_files(cli, toy_problem, tmp_path):
    (tmp_path / "afile").write_text("")
    _one_line_error(*cli("run", str(toy_problem), "--runs-dir", str(tmp_path / "afile")), "afile")


@pytest.mark.parametrize("args", [["--timeout", "inf"], ["--timeout", "1e20"], ["--target", "nan"], ["--max-time", "inf"]])
def test_non_finite_numbers(cli, toy_problem, args):
    _one_line_error(*cli("run", str(toy_problem), *args), args[0].lstrip("-").replace("-", "_").replace("max_time", "max_time_seconds").replace("target", "target_score").replace("timeout", "timeout_seconds"))


def test_resume_cannot_go_below_done(cli, toy_problem):
    assert cli("run", str(toy_problem), "--iterations", "4", "--name", "r")[0] == 0
    _one_line_error(*cli("resume", "r", "--iterations", "2"), "below the 4 iterations")
    assert json.loads(cli("status", "r", "--json")[1])["iterations_requested"] == 4


@pytest.mark.parametrize("option", [("--order", "bogus"), ("--executor", "bogus"), ("--workers", "0"), ("--llm-concurrency", "0")])
def test_a_bad_pool_or_executor_option_is_one_line_and_exit_2(cli, toy_problem, option):
    code, _, err = cli("run", str(toy_problem), "--iterations", "1", *option)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: invalid setting"), err
    assert not (toy_problem.parent / "runs").exists()
