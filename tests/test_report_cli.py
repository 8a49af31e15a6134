"""`evolve report`: writes the file for any run and store, during or after a run; mistakes are one line."""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import time

from conftest import set_delay
from test_cli import _one_line_error
from test_resume import _evolve, _wait_for_iterations

from evolve.store import Store, default_db_url


def test_report_writes_one_file_in_the_run_folder(cli, toy_problem, tmp_path):
    assert cli("run", str(toy_problem), "--iterations", "5", "--name", "r")[0] == 0
    code, out, err = cli("report", "r")
    assert code == 0, err
    path = tmp_path / "runs" / "r" / "report.html"
    assert f"report: runs/r/report.html" in out and "6 candidates" in out
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<title>evolve report: r (toy)</title>" in text
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".report-")] == []  # no temp file left


def test_report_of_a_run_in_another_sqlalchemy_store(cli, toy_problem, tmp_path):
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    assert cli("run", str(toy_problem), "--iterations", "3", "--name", "remote", "--db", url)[0] == 0
    code, _, err = cli("report", "remote", "--db", url, "--out", str(tmp_path / "remote.html"))
    assert code == 0, err
    assert "evolve report: remote (toy)" in (tmp_path / "remote.html").read_text()
    _one_line_error(*cli("report", "ghost", "--db", url), "ghost")


def test_report_while_the_run_is_going(cli, toy_problem, tmp_path):
    set_delay(toy_problem, 0.3)
    proc = _evolve("run", str(toy_problem), "--iterations", "40", "--name", "live", "--sandbox", "process", cwd=tmp_path)
    try:
        _wait_for_iterations(tmp_path / "runs" / "live" / "evolve.db", 3)
        code, out, err = cli("report", "live", "--out", str(tmp_path / "live.html"))
        assert code == 0, err
        text = (tmp_path / "live.html").read_text()
        assert "while the run was going" in text
        assert 4 <= int(re.search(r"(\d+) candidates", out).group(1)) < 41
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)


def test_bad_targets_are_one_line_and_exit_2(cli, toy_problem, tmp_path):
    _one_line_error(*cli("report", "ghost"), "ghost")
    assert cli("run", str(toy_problem), "--iterations", "2", "--name", "r")[0] == 0
    _one_line_error(*cli("report", "r", "--out", str(tmp_path / "no" / "such" / "r.html")), "not an existing folder")
    _one_line_error(*cli("report", "r", "--out", str(tmp_path)), "is a folder")
    (tmp_path / "afile").write_text("")
    _one_line_error(*cli("report", "r", "--out", str(tmp_path / "afile" / "r.html")), "afile")


def test_open_hands_the_file_to_the_browser(cli, toy_problem, tmp_path, monkeypatch):
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(browser.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("BROWSER", str(browser))
    assert cli("run", str(toy_problem), "--iterations", "2", "--name", "r")[0] == 0
    code, _, err = cli("report", "r", "--open")
    assert code == 0, err
    for _ in range(100):
        if opened.exists() and opened.read_text().strip():
            break
        time.sleep(0.05)  # the browser command runs in the background
    assert opened.read_text().strip() == (tmp_path / "runs" / "r" / "report.html").resolve().as_uri()


def test_report_of_a_run_with_no_candidate_has_nothing_to_draw_but_says_so(cli, toy_problem, tmp_path):
    seed = toy_problem / "seed.py"
    seed.write_text(seed.read_text().replace("a = 1.0", "a = -1.0"))
    assert cli("run", str(toy_problem), "--iterations", "3", "--name", "dud")[0] == 2  # the seed fails its own evaluation
    assert not (tmp_path / "runs" / "dud").exists()  # ... so the pre-flight made no run; one stopped before its seed:
    (tmp_path / "runs" / "dud").mkdir(parents=True)
    Store(default_db_url(tmp_path / "runs" / "dud")).create_run("dud", "toy", str(toy_problem), "v", {"iterations": 3})
    code, out, err = cli("report", "dud")
    assert code == 0, err
    assert "0 candidates" in out
    text = (tmp_path / "runs" / "dud" / "report.html").read_text()
    assert "0 steps from the seed to the best" in text and "No failures" in text


def test_report_when_the_problem_folder_is_gone(cli, toy_problem, tmp_path):
    assert cli("run", str(toy_problem), "--iterations", "3", "--name", "moved")[0] == 0
    shutil.rmtree(toy_problem)
    code, _, err = cli("report", "moved")
    assert code == 0, err
    text = (tmp_path / "runs" / "moved" / "report.html").read_text()
    assert "problem folder unreadable" in text and "no MAP-Elites grid" in text
