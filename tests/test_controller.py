"""The evolution loop on the toy problem: real store, real process sandbox, offline proposer."""

from __future__ import annotations

import asyncio

from evolve.config import RunConfig
from evolve.events import RunStatus
from evolve.problem import load_problem
from evolve.run_folders import RunPlace, create_run
from evolve.runs import execute


def _run(problem_dir, runs_root, name, **settings):
    problem = load_problem(problem_dir)
    config = RunConfig(**{"islands": 2, "migration_interval": 5, "timeout_seconds": 20, "sandbox": "process", **settings})
    handle = create_run(problem, config.model_dump(mode="json"), RunPlace(runs_root), name)
    status = RunStatus()
    result = asyncio.run(execute(handle, problem, config, status))
    return handle, result, status


def _lineage(handle):
    return [
        (c.iteration, c.island, c.parent_id, c.code_hash, c.status, c.score, c.failure_reason)
        for c in handle.store.candidates(handle.run.id)
    ]


def test_run_improves_and_stores_every_candidate(toy_problem, tmp_path):
    handle, result, status = _run(toy_problem, tmp_path / "runs", "a", iterations=25, seed=1)
    candidates = handle.store.candidates(handle.run.id)
    assert result.state == "finished"
    assert [c.iteration for c in candidates] == list(range(26))
    assert candidates[0].parent_id is None and all(c.parent_id is not None for c in candidates[1:])
    assert result.best.score > candidates[0].score
    assert result.best.test_score is not None  # a new best is confirmed on held-out data
    assert len(handle.store.proposals(handle.run.id)) == 25
    assert status.seed_score == candidates[0].score and status.best_score == result.best.score
    assert status.baselines == {"good": 100.0}
    assert {c.island for c in candidates[1:]} == {0, 1}
    for c in candidates[1:]:
        assert c.diff.startswith("--- a/seed.py") or c.status == "rejected"


def test_same_seed_same_lineage_one_worker(toy_problem, tmp_path):
    first, _, _ = _run(toy_problem, tmp_path / "runs", "a", iterations=20, seed=5)
    second, _, _ = _run(toy_problem, tmp_path / "runs", "b", iterations=20, seed=5)
    other, _, _ = _run(toy_problem, tmp_path / "runs", "c", iterations=20, seed=6)
    assert _lineage(first) == _lineage(second)
    assert _lineage(first) != _lineage(other)


def test_same_seed_same_lineage_two_workers(toy_problem, tmp_path):
    first, _, _ = _run(toy_problem, tmp_path / "runs", "a", iterations=16, seed=2, workers=2)
    second, _, _ = _run(toy_problem, tmp_path / "runs", "b", iterations=16, seed=2, workers=2)
    assert _lineage(first) == _lineage(second)
    assert len(_lineage(first)) == 17


def test_target_score_stops_early(toy_problem, tmp_path):
    handle, result, _ = _run(toy_problem, tmp_path / "runs", "a", iterations=200, seed=1, target_score=85.0)
    assert result.state == "stopped" and "target" in result.reason
    assert result.best.score >= 85.0
    assert result.iterations_done < 200
    assert handle.store.run("a").state == "stopped"


def test_time_budget_stops_cleanly(toy_problem, tmp_path):
    handle, result, _ = _run(toy_problem, tmp_path / "runs", "a", iterations=10_000, seed=1, max_time_seconds=3)
    assert result.state == "stopped" and result.reason == "time budget reached"
    iterations = [c.iteration for c in handle.store.candidates(handle.run.id)]
    assert iterations == list(range(len(iterations)))  # nothing half-written
    assert 1 < len(iterations) < 10_000


def test_target_already_met_by_the_seed(toy_problem, tmp_path):
    handle, result, _ = _run(toy_problem, tmp_path / "runs", "a", iterations=50, seed=1, target_score=10.0)
    assert result.state == "stopped" and "target" in result.reason
    assert result.iterations_done == 0


def test_time_budget_covers_scoring_the_seed(toy_problem, tmp_path):
    from conftest import set_delay

    set_delay(toy_problem, 30)
    handle, result, _ = _run(toy_problem, tmp_path / "runs", "a", iterations=5, seed=1, max_time_seconds=1.5)
    assert result.state == "stopped" and result.reason == "time budget reached"
    assert handle.store.candidates(handle.run.id) == []
