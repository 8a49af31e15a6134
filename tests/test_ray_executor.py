"""Evaluations on a real local Ray cluster of two nodes (one CPU each), started by the tests.

Ray is an optional extra: without it these tests skip, unless EVOLVE_REQUIRE_RAY=1 (CI installs
the extra and sets it, so there a missing Ray is a failure). A Ray worker killed with SIGKILL in
the middle of an evaluation must cost the run nothing but a retry: the evaluation is run again on
a fresh actor (or, if that dies too, recorded as a sandbox_error), and the run finishes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import set_delay

if os.environ.get("EVOLVE_REQUIRE_RAY") != "1":
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")

TRUSTED_WORKER_BUSY = "ray::TrustedWorker.score"  # the process title of an actor inside `score`


@pytest.fixture(scope="module")
def ray_cluster():
    """A head node and a second node on this machine, one CPU each: two worker processes at most."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


def _title(pid: int | str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""


def _parent(pid: int | str) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def busy_workers(title: str = TRUSTED_WORKER_BUSY) -> list[int]:
    """Pids of Ray actors running a trusted worker's `score` right now (or any with `title`); not
    their forks (a box forked from the worker carries its title too)."""
    return [
        int(pid) for pid in os.listdir("/proc")
        if pid.isdigit() and _title(pid).startswith(title) and not _title(_parent(pid)).startswith("ray::TrustedWorker")
    ]  # fmt: skip


def kill_busy_worker(spare: tuple[int, ...] = (), deadline_s: float = 60) -> tuple[int, ...]:
    """SIGKILL the first actor seen scoring a job (not one of `spare`: killed already); its pid
    and its children's (its box, which outlives it for a moment under another parent)."""
    until = time.monotonic() + deadline_s
    while time.monotonic() < until:
        pids = [pid for pid in busy_workers() if pid not in spare]
        if pids:
            children = tuple(int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(p) == pids[0])
            os.kill(pids[0], signal.SIGKILL)
            return (pids[0], *children)
        time.sleep(0.02)
    raise AssertionError("no Ray worker was seen scoring a job")


def test_a_run_on_two_ray_nodes_survives_a_worker_killed_mid_evaluation(ray_cluster, toy_problem, tmp_path):
    set_delay(toy_problem, 1.0)  # each train stage takes a second: time to catch a worker in it
    env = dict(os.environ, EVOLVE_SANDBOX="bwrap" if os.environ.get("EVOLVE_REQUIRE_SANDBOXES") == "1" else "process")
    args = [sys.executable, "-m", "evolve.cli", "run", str(toy_problem), "--iterations", "6", "--workers", "2",
            "--executor", "ray", "--ray-address", ray_cluster.address, "--name", "r", "--workloads", "public", "--seed", "1"]  # fmt: skip
    run = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        kill_busy_worker()
        out, err = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err[-2000:]
    assert "finished: all iterations done" in out
    with sqlite3.connect(tmp_path / "runs" / "r" / "evolve.db") as db:
        rows = db.execute("select iteration, status, failure_reason from candidates order by iteration").fetchall()
    assert [r[0] for r in rows] == list(range(7))  # the seed and six iterations: none lost
    assert all(r[1] == "valid" or r[2] == "sandbox_error" for r in rows), rows

    more = subprocess.run([sys.executable, "-m", "evolve.cli", "resume", "r", "--iterations", "8", "--executor", "ray",
                           "--ray-address", ray_cluster.address], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert more.returncode == 0, more.stderr[-2000:]
    with sqlite3.connect(tmp_path / "runs" / "r" / "evolve.db") as db:
        assert [i for (i,) in db.execute("select iteration from candidates order by iteration")] == list(range(9))


def test_a_job_whose_worker_dies_every_time_comes_back_failed(ray_cluster, toy_problem):
    from evolve.problem import load_problem
    from sandboxes.base import Limits, SandboxJob
    from sandboxes.choose import backend_spec
    from sandboxes.ray_pool import RETRIES, RayPool

    set_delay(toy_problem, 2.0)
    problem = load_problem(toy_problem)
    backend, note = backend_spec("process")
    job = SandboxJob(code=problem.seed_code, evaluator=problem.evaluator_ref, stages=("smoke", "train"))

    earlier = busy_workers("ray::TrustedWorker")  # the last test's actors, maybe still going away

    async def scenario():
        pool = RayPool(backend, 2, ray_cluster.address, note)
        try:
            scoring = asyncio.ensure_future(pool.run(job, Limits(wall_seconds=30, cpu_seconds=30, memory_mb=512)))
            killed, spare = [], tuple(earlier)
            for _ in range(RETRIES + 1):
                victim, *children = await asyncio.to_thread(kill_busy_worker, spare)
                killed.append(victim)
                spare += (victim, *children)
            return await scoring, killed
        finally:
            await pool.aclose()

    outcome, killed = asyncio.run(scenario())
    assert len(set(killed)) == RETRIES + 1  # a fresh actor each time
    assert outcome.failure == "sandbox_error"
    assert f"died {RETRIES + 1} times" in outcome.detail


def test_llm_code_never_runs_unisolated_on_a_ray_cluster(cli, toy_problem, monkeypatch):
    """The process backend on Ray would give LLM-written code the network of every node and Ray's
    unauthenticated services: refused before anything starts (the offline proposer may use it)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    code, out, err = cli("run", str(toy_problem), "--iterations", "2", "--model", "openai/gpt-5-mini",
                         "--executor", "ray", "--sandbox", "process", "--name", "open")  # fmt: skip
    assert code == 2 and err.startswith("error: --executor ray with --sandbox process") and len(err.strip().splitlines()) == 1, err
    assert not (toy_problem.parent / "runs" / "open").exists()


def test_an_unreachable_cluster_is_one_line_and_exit_2(cli, toy_problem):
    code, out, err = cli("run", str(toy_problem), "--iterations", "2", "--executor", "ray", "--ray-address", "127.0.0.1:9")
    assert code == 2
    assert "Traceback" not in err
    assert "ray" in err.lower()
    assert not (Path("runs") / "r").exists()


def test_more_workers_than_the_cluster_has_cpus_is_one_line_and_exit_2(ray_cluster, cli, toy_problem):
    code, _, err = cli("run", str(toy_problem), "--iterations", "2", "--workers", "3", "--executor", "ray",
                       "--ray-address", ray_cluster.address, "--name", "wide")  # fmt: skip
    assert code == 2 and "Traceback" not in err
    assert "needs 3 CPUs, and the Ray cluster has 2" in err.strip().splitlines()[-1]
    assert not (toy_problem.parent / "runs" / "wide").exists()
