"""PostgreSQL as a first-class store, against a real server: each test gets a database of its own.

Runs, reports, kill -9 and resume, two runs into one database at once and a live run seen from
another machine (a team's shared store), migrations on an empty database, a server that cannot be
reached or stops answering mid-run, and what PostgreSQL refuses that SQLite takes (NUL in text).
The lineage a run stores in PostgreSQL is the one it stores in SQLite: same seed, same candidates.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import pytest
from conftest import set_delay
from evolve_process import evolve_process
from postgres_server import URL_VARIABLE, fresh_database
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from evolve.errors import RunNotFound
from evolve.store import Store, default_db_url
from evolve.store.migrations import MIGRATIONS, migrate
from evolve.store.models import Base
from evolve.store.records import CandidateRecord, EvaluationRecord, ProposalRecord


@pytest.fixture
def pg_url():
    with fresh_database() as url:
        yield url


def _lineage(url: str, name: str) -> list[tuple]:
    """A run's candidates as comparable rows (parents by iteration: ids differ between stores)."""
    store = Store(url)
    try:
        run = store.run(name)
        records = store.candidates(run.id)
    finally:
        store.close()
    iteration_of = {c.id: c.iteration for c in records}
    return [
        (c.iteration, c.island, c.generation, iteration_of.get(c.parent_id), c.code_hash, c.status, c.score, c.test_score)
        for c in records
    ]


def _evolve(*args: str, cwd, tmpdir=None) -> subprocess.Popen:
    """`evolve ...` in its own process; another `tmpdir` plays another machine (no shared lock files)."""
    return evolve_process(*args, cwd=cwd, env={**os.environ, "EVOLVE_SANDBOX": "process", **({"TMPDIR": str(tmpdir)} if tmpdir else {})})


def _finished(proc: subprocess.Popen, timeout: float = 120) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


def _wait_for_iterations(url: str, name: str, at_least: int, timeout: float = 60.0) -> int:
    store = Store(url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                done = store.run(name).iterations_done
            except RunNotFound:
                done = -1
            if done >= at_least:
                return done
            time.sleep(0.05)
    finally:
        store.close()
    raise AssertionError(f"run {name} never reached {at_least} iterations")


def _wait_until_nobody_drives(url: str, name: str, timeout: float = 30.0) -> None:
    """After a kill -9 the server notices the dead connection (and drops its lock) a moment later."""
    store = Store(url)
    try:
        run_id, deadline = store.run(name).id, time.monotonic() + timeout
        while store.driven(run_id):
            assert time.monotonic() < deadline, f"run {name} still looks driven"
            time.sleep(0.05)
    finally:
        store.close()


def test_run_status_best_export_against_postgres(cli, toy_problem, tmp_path, pg_url):
    args = ["--iterations", "6", "--seed", "3"]
    code, out, err = cli("run", str(toy_problem), *args, "--name", "pg", "--db", pg_url)
    assert code == 0, err
    assert not (tmp_path / "runs" / "pg" / "evolve.db").exists()  # everything went to the server

    listed = json.loads(cli("status", "--json", "--db", pg_url)[1])
    assert [(r["name"], r["state"], r["iterations_done"]) for r in listed] == [("pg", "finished", 6)]
    summary = json.loads(cli("status", "pg", "--json", "--db", pg_url)[1])
    assert summary["iterations_done"] == 6 and summary["state"] == "finished"
    code, text_status, err = cli("status", "pg", "--db", pg_url)
    assert code == 0 and "6/6 iterations" in text_status, err

    best = json.loads(cli("best", "pg", "--json", "--db", pg_url)[1])
    lineage = _lineage(pg_url, "pg")
    assert best["score"] == max(row[6] for row in lineage if row[5] == "valid")

    code, _, err = cli("export", "pg", "--out", str(tmp_path / "out"), "--db", pg_url)
    assert code == 0, err
    assert (tmp_path / "out" / "best_seed.py").read_text() == best["code"]
    assert json.loads((tmp_path / "out" / "best.json").read_text())["run"]["best_score"] == best["score"]

    shown = json.loads(cli("show", "pg", str(best["iteration"]), "--json", "--db", pg_url)[1])
    assert (shown["candidate_id"], shown["status"]) == (best["candidate_id"], "valid")
    rows = json.loads(cli("candidates", "pg", "--json", "--db", pg_url)[1])
    assert [r["iteration"] for r in rows] == list(range(7))
    code, out, err = cli("report", "pg", "--out", str(tmp_path / "report.html"), "--db", pg_url)
    assert code == 0 and "7 candidates" in out, err

    # The same run in SQLite stores the same lineage.
    assert cli("run", str(toy_problem), *args, "--name", "lite")[0] == 0
    assert lineage == _lineage(default_db_url(tmp_path / "runs" / "lite"), "lite")


def test_kill_9_then_resume_against_postgres(toy_problem, tmp_path, pg_url):
    set_delay(toy_problem, 0.1)
    args = ["--iterations", "12", "--seed", "4", "--workers", "2", "--db", pg_url]
    victim = _evolve("run", str(toy_problem), *args, "--name", "victim", cwd=tmp_path)
    _wait_for_iterations(pg_url, "victim", 3)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    _wait_until_nobody_drives(pg_url, "victim")
    reference = _evolve("run", str(toy_problem), *args, "--name", "reference", cwd=tmp_path)
    partial = _lineage(pg_url, "victim")
    assert 3 <= len(partial) - 1 < 12
    assert [r[0] for r in partial] == list(range(len(partial)))  # whole iterations only

    shown = json.loads(_finished(_evolve("status", "victim", "--json", "--db", pg_url, cwd=tmp_path)))
    assert shown["state"] == "stopped"  # stored as running, but nobody drives it

    _finished(_evolve("resume", "victim", "--db", pg_url, cwd=tmp_path))
    _finished(reference)
    rows = _lineage(pg_url, "victim")
    assert [r[0] for r in rows] == list(range(13))  # none lost, none repeated
    assert rows[: len(partial)] == partial  # what was stored before the kill is untouched
    assert rows == _lineage(pg_url, "reference")  # and it is the run that was never interrupted


def test_a_live_run_is_seen_from_another_machine(toy_problem, tmp_path, pg_url):
    """Lock files speak for one machine; the shared store says who drives a run to everyone."""
    set_delay(toy_problem, 0.2)
    elsewhere = tmp_path / "another-machine-tmp"
    elsewhere.mkdir()
    live = _evolve("run", str(toy_problem), "--iterations", "200", "--name", "live", "--db", pg_url, cwd=tmp_path)
    try:
        _wait_for_iterations(pg_url, "live", 1)
        seen = json.loads(_finished(_evolve("status", "live", "--json", "--db", pg_url, cwd=tmp_path, tmpdir=elsewhere)))
        assert seen["state"] == "running"
        second = _evolve("resume", "live", "--db", pg_url, cwd=tmp_path, tmpdir=elsewhere)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2 and "driven by another process" in err and "Traceback" not in err, err
    finally:
        os.killpg(live.pid, signal.SIGKILL)
        live.wait(timeout=10)
    _wait_until_nobody_drives(pg_url, "live")
    seen = json.loads(_finished(_evolve("status", "live", "--json", "--db", pg_url, cwd=tmp_path, tmpdir=elsewhere)))
    assert seen["state"] == "stopped"  # killed: stopped for everyone, and free to resume anywhere


def test_two_runs_into_one_empty_database_at_once(toy_problem, tmp_path, pg_url):
    set_delay(toy_problem, 0.05)
    runs = {"alice": "1", "bob": "2"}
    started = [
        _evolve("run", str(toy_problem), "--iterations", "10", "--seed", seed, "--name", name, "--db", pg_url, cwd=tmp_path)
        for name, seed in runs.items()
    ]  # both open the database before it has any table: the migrations must take turns
    for proc in started:
        _finished(proc)

    listed = json.loads(_finished(_evolve("status", "--json", "--db", pg_url, cwd=tmp_path)))
    assert sorted((r["name"], r["state"], r["iterations_done"]) for r in listed) == [
        ("alice", "finished", 10),
        ("bob", "finished", 10),
    ]
    alone = {  # each run again, on its own in SQLite
        name: _evolve("run", str(toy_problem), "--iterations", "10", "--seed", seed, "--name", name, cwd=tmp_path)
        for name, seed in runs.items()
    }
    for name, proc in alone.items():
        _finished(proc)
        assert _lineage(pg_url, name) == _lineage(default_db_url(tmp_path / "runs" / name), name)  # nothing of the other run


def test_migrations_on_an_empty_database(pg_url):
    engine = create_engine(pg_url)
    try:
        assert inspect(engine).get_table_names() == []
        assert migrate(engine) == [name for name, _ in MIGRATIONS]
        assert migrate(engine) == []  # recorded: a second opening applies nothing
        found = inspect(engine)
        for table in Base.metadata.sorted_tables:
            columns = {c["name"] for c in found.get_columns(table.name)}
            assert columns == {c.name for c in table.columns}, table.name
    finally:
        engine.dispose()
    store = Store(pg_url)  # and the store opens it as it is
    try:
        assert store.runs() == []
    finally:
        store.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _one_line_exit_2(result: tuple[int, str, str], *fragments: str) -> str:
    code, _, err = result
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_unreachable_server_or_bad_url_is_one_line(cli, toy_problem, pg_url):
    real = make_url(pg_url)
    secret = "s3cret-never-printed"
    port = _closed_port()
    nobody_listens = real.set(host="127.0.0.1", port=port, password=secret).render_as_string(hide_password=False)
    for command in (["status"], ["status", "x"], ["run", str(toy_problem), "--iterations", "1"]):
        err = _one_line_exit_2(cli(*command, "--db", nobody_listens), "cannot open database", "refused")
        assert secret not in err  # the password is masked in what we print
    wrong_password = real.set(password="not-the-password").render_as_string(hide_password=False)
    _one_line_exit_2(cli("status", "--db", wrong_password), "cannot open database", "password authentication failed")
    no_such_db = real.set(database="evolve_no_such_database").render_as_string(hide_password=False)
    _one_line_exit_2(cli("status", "--db", no_such_db), "cannot open database", "does not exist")
    bad_port = nobody_listens.replace(f":{port}/", ":notaport/")
    assert secret not in _one_line_exit_2(cli("status", "--db", bad_port), "cannot use database URL", ":***@")
    _one_line_exit_2(cli("status", "ghost", "--db", pg_url), "no run named 'ghost'")


def test_bare_postgresql_url_means_psycopg(cli, toy_problem, pg_url):
    bare = pg_url.replace("postgresql+psycopg://", "postgresql://")
    code, _, err = cli("run", str(toy_problem), "--iterations", "2", "--name", "bare", "--db", bare)
    assert code == 0, err
    assert json.loads(cli("status", "bare", "--json", "--db", pg_url)[1])["iterations_done"] == 2


def test_nul_characters_do_not_end_a_run(pg_url):
    """An LLM's answer or a candidate's output may hold NUL, which PostgreSQL text cannot: the
    iteration is stored (with U+FFFD in its place), as SQLite stores it (verbatim)."""
    store = Store(pg_url)
    try:
        run = store.create_run("nul", "toy", "/p", "v", {"note": "a\x00b"})
        record = CandidateRecord(
            iteration=0, island=0, generation=0, parent_id=None, code="x = 1\x00\n", code_hash="h", norm_hash="n",
            status="failed", failure_reason="crash", failure_detail="printed \x00 then died", features={},
            evaluations=(EvaluationRecord("smoke", {}, False, "bad\x00", "feedback \x00", "crash", 0.1),),
        )  # fmt: skip
        store.commit_iteration(run.id, record, ProposalRecord("offline", response="answer \x00"), new_best=False)
        stored = store.candidates(run.id)[0]
        assert (stored.code, stored.failure_detail) == ("x = 1\ufffd\n", "printed \ufffd then died")
        assert (stored.evaluations[0].reason, stored.evaluations[0].feedback) == ("bad\ufffd", "feedback \ufffd")
        assert store.proposals(run.id)[0].response == "answer \ufffd"
        assert store.run("nul").config == {"note": "a\x00b"}  # JSON escapes it: kept as it was
    finally:
        store.close()


def test_a_connection_the_server_dropped_is_replaced(pg_url):
    """A restart or an idle timeout ends the store's pooled connections: the next write opens a
    new one instead of failing (and ending a long run)."""
    store = Store(pg_url)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        run = store.create_run("long", "toy", "/p", "v", {})
        with admin.connect() as conn:
            dropped = conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            ).all()
        assert dropped and all(ok for (ok,) in dropped)  # the store's pooled connection is gone
        store.set_state(run.id, "running")
        assert store.run("long").state == "running"
    finally:
        admin.dispose()
        store.close()


def test_a_store_that_stops_answering_ends_the_run_cleanly(toy_problem, tmp_path, pg_url):
    """The database refuses connections mid-run: one line, exit 1, nothing stored is lost, and
    `resume` finishes the run once the database is back, as if it had never stopped."""
    set_delay(toy_problem, 0.1)
    args = ["--iterations", "24", "--seed", "5"]
    reference = _evolve("run", str(toy_problem), *args, "--name", "cut", cwd=tmp_path)  # in SQLite
    cut = _evolve("run", str(toy_problem), *args, "--name", "cut", "--db", pg_url, cwd=tmp_path)
    _wait_for_iterations(pg_url, "cut", 2)
    database = make_url(pg_url).database
    admin = create_engine(os.environ[URL_VARIABLE], isolation_level="AUTOCOMMIT")  # another database
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"), {"d": database})
            _, err = cut.communicate(timeout=120)
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
    finally:
        admin.dispose()
    assert cut.returncode == 1, err
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err and last.startswith("error: cannot write to"), err
    assert "evolve resume cut --db" in last, err

    stored = _lineage(pg_url, "cut")
    assert 2 <= len(stored) - 1 < 24 and [r[0] for r in stored] == list(range(len(stored)))
    _finished(_evolve("resume", "cut", "--db", pg_url, cwd=tmp_path))
    _finished(reference)
    assert _lineage(pg_url, "cut") == _lineage(default_db_url(tmp_path / "runs" / "cut"), "cut")


def test_an_llm_run_reports_the_same_from_postgres_as_from_sqlite(cli, toy_problem, tmp_path, pg_url, monkeypatch):
    """Every reporting query (calls by model, prompt variants, answers) on both databases."""
    from fakellm import FakeLLM
    from test_prompt_evolution import Coach, config, score_is_a

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    score_is_a(toy_problem)
    reports = []
    for name, db in (("lite", []), ("pg", ["--db", pg_url])):
        with FakeLLM(Coach()) as server:
            path = config(tmp_path / f"{name}.toml", server)
            path.write_text(path.read_text().replace("prompt_interval = 8", "prompt_interval = 4"))
            code, _, err = cli("run", str(toy_problem), "--iterations", "12", "--config", str(path), "--name", name,
                                  "--workers", "1", "--order", "iteration", *db)  # the fake answers in call order: one at a time
            assert code == 0, err
        summary = json.loads(cli("status", name, "--json", *db)[1])
        rows = json.loads(cli("candidates", name, "--json", *db)[1])
        assert cli("export", name, "--answers", "--out", str(tmp_path / name), *db)[0] == 0
        answers = [{**json.loads(line), "run": ""} for line in (tmp_path / name / "answers.jsonl").read_text().splitlines()]
        assert summary.pop("created_at")[:19] <= summary.pop("updated_at")[:19]  # both UTC, one format
        reports.append(({k: v for k, v in summary.items() if k != "name"}, rows, answers))
    assert reports[0][0]["prompt_variants"] and reports[0][0]["models"][0]["prompt_calls"] >= 2
    assert reports[1] == reports[0]
