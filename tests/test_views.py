"""What a user sees: why candidates failed, runs whose process died, resumed runs, piped output.

Issue 11 items 2 (failure reasons in the event lines, `status`, `candidates`, `eval`), 10 (stale
or broken runs), 11 (a resumed view starts from the stored history) and 13 (whole names when
piped; the held-out scores in the final line), through the real CLI and real SQLite files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from test_resume import _wait_for_iterations


def test_failure_reasons_in_event_lines_status_and_candidates(cli, toy_problem):
    code, out, err = cli("run", str(toy_problem), "--iterations", "30", "--seed", "4", "--name", "why")
    assert code == 0, err
    assert "invalid: smoke: a must be non-negative" in out  # the event line says why, not just "invalid"
    code, out, err = cli("status", "why")
    assert code == 0 and "1 x invalid: smoke: a must be non-negative" in out and "evolve show why 9" in out
    rows = json.loads(cli("candidates", "why", "--status", "invalid", "--json")[1])
    assert [(r["iteration"], r["detail"]) for r in rows] == [(9, "smoke: a must be non-negative")]
    assert json.loads(cli("candidates", "why", "--island", "1", "--json")[1])[0]["island"] == 1
    code, out, err = cli("candidates", "why", "--reason", "invalid")
    assert code == 0 and "a must be non-negative" in out


def test_eval_says_why_and_exits_non_zero(cli, toy_problem, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def params():\n    raise RuntimeError('the model forgot a case')\n")
    code, out, err = cli("eval", str(toy_problem), str(broken))
    assert code == 1
    assert "RuntimeError: the model forgot a case" in err and "smoke: crash" in err
    invalid = tmp_path / "negative.py"
    invalid.write_text("def params():\n    return -1.0, 0.0, 0.0\n")
    code, out, err = cli("eval", str(toy_problem), str(invalid), "--json")
    assert code == 1 and json.loads(out)["valid"] is False and "a must be non-negative" in err
    assert cli("eval", str(toy_problem), str(toy_problem / "good.py"))[0] == 0


def test_a_killed_run_shows_as_stopped_and_no_runs_says_how_to_start(cli, toy_problem, tmp_path):
    code, out, _ = cli("status")
    assert code == 0 and "no runs in runs" in out and "evolve run PROBLEM" in out
    proc = subprocess.Popen([sys.executable, "-m", "evolve.cli", "run", str(toy_problem), "--iterations", "500", "--name", "k9"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    _wait_for_iterations(tmp_path / "runs" / "k9" / "evolve.db", 3)
    assert json.loads(cli("status", "k9", "--json")[1])["state"] == "running"  # alive: its lock is held
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert json.loads(cli("status", "k9", "--json")[1])["state"] == "stopped"
    assert "stopped" in cli("status")[1]


def test_a_resumed_view_starts_from_the_stored_history(cli, toy_problem):
    assert cli("run", str(toy_problem), "--iterations", "5", "--name", "again")[0] == 0
    code, out, err = cli("resume", "again", "--iterations", "8")
    assert code == 0, err
    assert "resumed after iteration 5: seed 78.470" in out
    assert "[8/8]" in out and "(best " in out


def test_piped_output_keeps_long_names_and_the_final_line_shows_held_out_scores(cli, toy_problem):
    name = "a-rather-long-run-name-that-a-person-chose-to-describe-the-experiment-in-detail-v2"
    code, out, err = cli("run", str(toy_problem), "--iterations", "4", "--seed", "1", "--name", name)
    assert code == 0, err
    assert "seed 78.470 (test 80.020) -> best" in out and "held-out test" in out
    code, out, _ = cli("status")
    assert code == 0 and name in out


def test_baselines_choose_the_sandbox_as_run_and_eval_do(cli, toy_problem, tmp_path, monkeypatch):
    from backends import available, required

    monkeypatch.delenv("EVOLVE_SANDBOX")
    if available("docker") and available("bwrap") and not required():
        import pytest

        pytest.skip("no isolating backend here: auto would pick process anyway")
    code, out, err = cli("problems", "--baselines", "--problems-dir", str(toy_problem.parent), "--cache-dir", str(tmp_path / "cache"), "--json")
    assert code == 0, err
    assert [r["sandbox"] for r in json.loads(out)] != ["process"]  # auto, like run and eval (it was process)


def test_the_live_view_lists_the_commonest_failure_reasons():
    from rich.console import Console

    from evolve.events import IterationDone, RunStatus
    from evolve.ui import render

    status = RunStatus()
    for i, missed in enumerate((17, 3, 9), start=1):
        status.emit(IterationDone(i, 0, "invalid", "invalid", None, False, "", 0.1, detail=f"train: deadline missed in {missed}/24 scenarios"))
    status.emit(IterationDone(4, 0, "failed", "crash", None, False, "", 0.1, detail="ZeroDivisionError: division by zero"))
    console = Console(record=True, width=160)
    console.print(render(status))
    text = console.export_text()
    assert "invalid: train: deadline missed in 9/24 scenarios" in text and "crash: ZeroDivisionError" in text
    assert "#4 island 0: failed (crash): ZeroDivisionError: division by zero" in text
