"""Crash safety: kill -9 or Ctrl-C in the middle of a run, then `evolve resume` finishes it exactly."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time

from conftest import set_delay
from evolve_process import evolve_process as _evolve

from evolve.store import Store, default_db_url


def _wait_for_iterations(db_path, at_least, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db_path.exists():
            try:
                with sqlite3.connect(db_path) as conn:
                    row = conn.execute("SELECT iterations_done FROM runs").fetchone()
                if row and row[0] >= at_least:
                    return row[0]
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"run never reached {at_least} iterations")


def _lineage(run_dir):
    store = Store(default_db_url(run_dir))
    run = store.runs()[0]
    rows = [(c.iteration, c.island, c.code_hash, c.status, c.score) for c in store.candidates(run.id)]
    return run, rows


def test_kill_9_then_resume_matches_uninterrupted_run(toy_problem, tmp_path):
    set_delay(toy_problem, 0.15)
    args = ["--iterations", "24", "--seed", "4", "--workers", "2"]
    reference = _evolve("run", str(toy_problem), *args, "--name", "ref", cwd=tmp_path)
    assert reference.wait(timeout=120) == 0, reference.stderr.read()

    victim = _evolve("run", str(toy_problem), *args, "--name", "victim", cwd=tmp_path)
    _wait_for_iterations(tmp_path / "runs" / "victim" / "evolve.db", 6)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    run, partial = _lineage(tmp_path / "runs" / "victim")
    assert run.state == "running"  # it never got to say goodbye
    assert 6 <= len(partial) - 1 < 24

    resumed = _evolve("resume", "victim", cwd=tmp_path)
    assert resumed.wait(timeout=120) == 0, resumed.stderr.read()
    run, rows = _lineage(tmp_path / "runs" / "victim")
    _, expected = _lineage(tmp_path / "runs" / "ref")
    assert run.state == "finished"
    assert [r[0] for r in rows] == list(range(25))  # exactly the requested iterations, none lost or repeated
    assert rows == expected  # and the same lineage as a run that was never interrupted


def test_ctrl_c_stops_cleanly_then_resume(toy_problem, tmp_path):
    set_delay(toy_problem, 0.15)
    proc = _evolve("run", str(toy_problem), "--iterations", "30", "--seed", "1", "--name", "r", cwd=tmp_path)
    _wait_for_iterations(tmp_path / "runs" / "r" / "evolve.db", 3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "evolve resume r" in out
    assert "Traceback" not in err
    run, rows = _lineage(tmp_path / "runs" / "r")
    assert run.state == "stopped"
    assert [r[0] for r in rows] == list(range(len(rows)))

    done = _evolve("resume", "r", "--iterations", "32", cwd=tmp_path)
    assert done.wait(timeout=120) == 0, done.stderr.read()
    run, rows = _lineage(tmp_path / "runs" / "r")
    assert run.state == "finished"
    assert [r[0] for r in rows] == list(range(33))


def test_second_driver_of_a_live_run_is_refused(toy_problem, tmp_path):
    set_delay(toy_problem, 0.2)
    proc = _evolve("run", str(toy_problem), "--iterations", "40", "--name", "busy", cwd=tmp_path)
    try:
        _wait_for_iterations(tmp_path / "runs" / "busy" / "evolve.db", 1)
        second = _evolve("resume", "busy", cwd=tmp_path)
        out, err = second.communicate(timeout=30)
        assert second.returncode == 2
        assert "another process" in err and "Traceback" not in err
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    _, rows = _lineage(tmp_path / "runs" / "busy")
    assert [r[0] for r in rows] == list(range(len(rows)))


def test_ctrl_c_while_the_seed_is_scored_stops_at_once(toy_problem, tmp_path):
    set_delay(toy_problem, 30)  # the seed's train stage alone would take 30 s
    inherited = (signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, set()))  # for the failure message
    proc = _evolve("run", str(toy_problem), "--iterations", "5", "--name", "slow", cwd=tmp_path)
    time.sleep(2.0)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError(f"Ctrl-C did not stop the run (this test process had SIGINT {inherited})") from None
    assert time.monotonic() - started < 10
    assert proc.returncode == 130, err
    assert "nothing was stored" in err and "Traceback" not in err  # stopped in the pre-flight checks
    assert not (tmp_path / "runs" / "slow").exists()


def test_completion_order_kill_9_then_resume_commits_every_iteration_once(toy_problem, tmp_path):
    set_delay(toy_problem, 0.15)
    args = ["--iterations", "24", "--seed", "4", "--workers", "2", "--order", "completion"]
    victim = _evolve("run", str(toy_problem), *args, "--name", "victim", cwd=tmp_path)
    _wait_for_iterations(tmp_path / "runs" / "victim" / "evolve.db", 6)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)

    resumed = _evolve("resume", "victim", cwd=tmp_path)
    assert resumed.wait(timeout=120) == 0, resumed.stderr.read()
    with sqlite3.connect(tmp_path / "runs" / "victim" / "evolve.db") as db:
        rows = db.execute("SELECT iteration, position, seen_upto FROM candidates ORDER BY position").fetchall()
        state, done = db.execute("SELECT state, iterations_done FROM runs").fetchone()
    assert state == "finished" and done == 24
    assert sorted(r[0] for r in rows) == list(range(25))  # every iteration once: none lost or repeated
    assert [r[1] for r in rows] == list(range(25))  # commit positions without gaps
    assert all(seen is not None and seen < position for _, position, seen in rows[1:])  # each plan saw only the past
