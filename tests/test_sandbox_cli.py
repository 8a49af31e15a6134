"""The sandbox choice end to end: `evolve run --sandbox docker|bwrap|auto`, `evolve sandbox ...`."""

from __future__ import annotations

import json

import pytest

from backends import require

NO_ENGINE = "unix:///nonexistent/docker.sock"


def _no_containers_left() -> bool:
    """Every container a trusted worker on this host started is gone once its worker is gone."""
    import os
    import socket

    from sandboxes.container import OWNER_LABEL, docker_client

    client = docker_client()
    left = []
    for container in client.containers.list(all=True, filters={"label": OWNER_LABEL}):
        host, _, pid = container.labels[OWNER_LABEL].rpartition(":")
        if host == socket.gethostname() and not os.path.exists(f"/proc/{pid}"):
            left.append(container.name)
    return not left


@pytest.mark.parametrize("backend", ["docker", "bwrap"])
def test_run_in_an_isolating_sandbox(cli, toy_problem, backend):
    require(backend)
    code, out, err = cli("run", str(toy_problem), "--iterations", "6", "--seed", "2", "--name", "iso", "--sandbox", backend)
    assert code == 0, err
    assert f"sandbox {backend}" in out
    status = json.loads(cli("status", "iso", "--json")[1])
    assert status["iterations_done"] == 6
    assert status["best_score"] is not None and status["best_score"] >= status["seed_score"]
    assert "sandbox_error" not in status["failures_by_reason"], status["failures_by_reason"]
    assert status["candidates_by_status"].get("valid", 0) >= 1
    if backend == "docker":
        assert _no_containers_left()


def test_auto_falls_back_to_bwrap_and_says_so(cli, toy_problem, monkeypatch):
    require("bwrap")
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    code, out, err = cli("run", str(toy_problem), "--iterations", "2", "--name", "auto", "--sandbox", "auto")
    assert code == 0, err
    assert "sandbox bwrap" in out
    assert "auto chose bwrap because docker is unavailable: no Docker engine answers" in " ".join(out.split())


def test_auto_falls_back_to_process_loudly(cli, toy_problem, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    monkeypatch.setenv("PATH", "/nonexistent")  # no bwrap to be found either
    code, out, err = cli("eval", str(toy_problem), str(toy_problem / "good.py"), "--sandbox", "auto", "--json")
    assert code == 0, err
    assert "warning: sandbox process: auto found no isolating backend" in err
    assert "NOT isolated" in err
    assert json.loads(out)["stages"]["train"]["valid"] is True


def test_docker_without_an_engine_is_one_clear_error(cli, toy_problem, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    for args in (("run", str(toy_problem), "--sandbox", "docker", "--name", "nodocker"), ("sandbox", "build")):
        code, out, err = cli(*args)
        assert code == 2
        assert err.startswith("error: ") and "no Docker engine answers" in err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "runs" / "nodocker").exists()  # refused before a run was created


def test_unknown_sandbox_is_a_usage_error(cli, toy_problem):
    code, _, err = cli("eval", str(toy_problem), str(toy_problem / "good.py"), "--sandbox", "vm")
    assert code == 2 and err.startswith("error: ") and "sandbox" in err


def test_sandbox_check_reports_each_backend(cli):
    code, out, err = cli("sandbox", "check", "--jobs", "3", "--json")
    assert code == 0, err
    rows = {r["backend"]: r for r in json.loads(out)}
    assert set(rows) == {"docker", "bwrap", "process"}
    assert rows["process"]["works"] is True and rows["process"]["overhead_ms_p50"] is not None
    for name in ("docker", "bwrap"):
        row = rows[name]
        assert row["works"] == (row["problem"] is None)
        assert (row["overhead_ms_p50"] is None) == (row["problem"] is not None and "probe jobs failed" not in row["problem"])


def test_llm_code_never_falls_back_to_an_unisolated_backend_unasked(cli, toy_problem, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    monkeypatch.setenv("PATH", "/nonexistent")  # no bwrap to be found either
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    args = ("run", str(toy_problem), "--iterations", "2", "--name", "unisolated", "--model", "openai/gpt-x", "--base-url", "http://127.0.0.1:9/v1")
    code, _, err = cli(*args, "--sandbox", "auto")
    assert code == 2 and err.startswith("error: ") and "no isolating sandbox here" in err and "--sandbox process" in err
    assert not (tmp_path / "runs" / "unisolated").exists()  # refused before a run was created
