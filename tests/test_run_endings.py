"""How runs end when something goes wrong: one line, a non-zero exit, the next command, nothing lost.

Issue 11 items 5 (hints keep --db/--runs-dir; no empty folder), 6 (a dead endpoint stops the run),
7 (export when nothing improved; program name), 9 (full disk, Ctrl-C, tiny timeouts) and 12 (a
proposer stuck on duplicates says so), through the real CLI, real SQLite and real subprocesses.
"""

from __future__ import annotations

import json
import resource
import signal
import socket
import sqlite3
import time

from conftest import set_delay
from evolve_process import evolve_process as _evolve
from test_resume import _wait_for_iterations

from evolve.store import Store


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err and "Task was destroyed" not in err and "InvalidStateError" not in err, err


def test_hints_repeat_runs_dir_and_db_and_a_db_run_makes_no_folder(cli, toy_problem, tmp_path):
    code, out, err = cli("run", str(toy_problem), "--iterations", "3", "--name", "far", "--runs-dir", str(tmp_path / "elsewhere"))
    assert code == 0, err
    next_line = next(line for line in out.splitlines() if "next:" in line)
    command = next_line.split("next: ")[1].split(" (")[0].split()
    assert command[:3] == ["evolve", "export", "far"] and "--runs-dir" in command
    assert cli(*command[1:])[0] == 0  # the hint works as printed

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    code, out, err = cli("run", str(toy_problem), "--iterations", "3", "--name", "indb", "--db", url)
    assert code == 0, err
    assert f"--db {url}" in out and "store: " in out
    assert not (tmp_path / "runs" / "indb").exists()  # nothing left behind in runs/


def test_export_refuses_when_the_seed_is_best_and_names_the_program(cli, toy_problem, tmp_path):
    (toy_problem / "seed.py").write_text((toy_problem / "good.py").read_text())  # the optimum: nothing can beat it
    code, out, err = cli("run", str(toy_problem), "--iterations", "3", "--name", "flat")
    assert code == 0, err
    assert "nothing beat the seed" in out
    code, out, err = cli("export", "flat")
    assert code == 2 and "nothing to apply" in err and not (tmp_path / "runs" / "flat" / "export" / "best.patch").exists()



def test_export_writes_best_program_under_its_own_name(cli, toy_problem, tmp_path):
    assert cli("run", str(toy_problem), "--iterations", "12", "--seed", "1", "--name", "up")[0] == 0
    code, out, err = cli("export", "up")
    assert code == 0, err
    exported = tmp_path / "runs" / "up" / "export"
    assert (exported / "best_seed.py").is_file() and not (exported / "seed.py").exists()
    assert "evolve eval" in out and "patch " in out
    before = (toy_problem / "seed.py").read_text()
    code, out, err = cli("eval", str(toy_problem), str(exported / "best_seed.py"))  # try it, seed untouched
    assert code == 0, err
    assert (toy_problem / "seed.py").read_text() == before


def test_a_dead_endpoint_stops_the_run_with_what_to_fix(cli, toy_problem, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on: every call is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "llm.toml"
    config.write_text("[llm.retry]\nmax_attempts = 1\nbase_seconds = 0.01\n")
    code, out, err = cli("run", str(toy_problem), "--iterations", "20", "--name", "dead", "--sandbox", "process",
                         "--model", "compatible/nothing", "--base-url", f"http://127.0.0.1:{port}/v1",
                         "--max-failed-calls", "3", "--config", str(config))  # fmt: skip
    assert code == 1, (out, err)
    assert "error:" in err and "--base-url" in err and "in a row" in err
    assert "finished" not in out
    status = json.loads(cli("status", "dead", "--json")[1])
    assert status["iterations_done"] == 3 and status["state"] == "failed"  # stored iterations stay
    assert status["failures_by_reason"] == {"llm_connection": 3}


def test_an_offline_run_stuck_on_duplicates_says_so(cli, toy_problem):
    seed = toy_problem / "seed.py"
    seed.write_text(seed.read_text().replace("    c = a * 0.5 + b\n", "    c = a\n").replace("    a = 1.0\n", "    a = 1\n").replace("    b = 2.0\n", "    b = a\n"))
    code, out, err = cli("run", str(toy_problem), "--iterations", "30", "--name", "stuck")
    assert code == 0, err
    assert "warning:" in out and "repeated earlier code" in out


def test_a_full_disk_is_one_line_and_keeps_what_was_stored(toy_problem, tmp_path):
    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))

    proc = _evolve("run", str(toy_problem), "--iterations", "2000", "--name", "full", cwd=tmp_path, preexec=small_files)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err
    _no_traceback(err)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot write" in errors[0] and "evolve resume full" in errors[0]
    store = Store(f"sqlite:///{tmp_path / 'runs' / 'full' / 'evolve.db'}")
    run = store.runs()[0]
    assert run.iterations_done > 0 and len(store.candidates(run.id)) == run.iterations_done + 1


def test_ctrl_c_three_times_stops_cleanly_with_the_resume_hint(toy_problem, tmp_path):
    set_delay(toy_problem, 0.2)
    proc = _evolve("run", str(toy_problem), "--iterations", "200", "--name", "cc", "--workers", "2", cwd=tmp_path)
    _wait_for_iterations(tmp_path / "runs" / "cc" / "evolve.db", 2)
    for _ in range(3):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    _no_traceback(err)
    assert "evolve resume cc" in out + err
    with sqlite3.connect(tmp_path / "runs" / "cc" / "evolve.db") as db:
        assert db.execute("SELECT state FROM runs").fetchone()[0] == "stopped"


def test_a_tiny_timeout_is_one_line_and_stores_nothing(cli, toy_problem, tmp_path):
    code, out, err = cli("run", str(toy_problem), "--timeout", "0.01", "--name", "tiny")
    assert code == 2 and err.startswith("error:") and "seed fails its own evaluation (timeout)" in err, err
    _no_traceback(err)
    assert not (tmp_path / "runs" / "tiny").exists()
