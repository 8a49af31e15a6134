"""`evolve problems --baselines`: scores every problem folder's seed and baselines through the
sandbox, caches them per problem version, recomputes on change or --refresh, reports broken
folders. Driven through the real CLI on copies of the toy problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def problems_dir(tmp_path) -> Path:
    root = tmp_path / "problems"
    shutil.copytree(FIXTURES / "toy", root / "toy")
    return root


def _baselines(cli, root: Path, cache: Path, *extra: str) -> tuple[int, list[dict], str]:
    code, out, err = cli("problems", "--baselines", "--json", "--problems-dir", str(root), "--cache-dir", str(cache), *extra)
    return code, (json.loads(out) if code == 0 else out), err


def _program(result: dict, name: str) -> dict:
    return next(p for p in result["programs"] if p["name"] == name)


def test_scores_seed_and_baselines_on_train_and_test_then_serves_them_from_the_cache(cli, problems_dir, tmp_path):
    cache = tmp_path / "cache"
    code, first, err = _baselines(cli, problems_dir, cache)
    assert code == 0, err
    assert "toy: scoring seed (1/2)" in err and "toy: scoring good (2/2)" in err  # progress
    (toy,) = first
    assert toy["cached"] is False and toy["sandbox"] == "process"
    seed, good = _program(toy, "seed"), _program(toy, "good")
    # seed params (1, 2, 2.5): 100 - (2.7^2 + 3.2^2 + 2^2) on train
    assert seed["stages"]["train"]["score"] == pytest.approx(100 - 2.7**2 - 3.2**2 - 2.0**2)
    assert good["stages"]["test"]["score"] > good["stages"]["train"]["score"] - 1.0
    assert all(s["valid"] and s["seconds"] >= 0 for p in toy["programs"] for s in p["stages"].values())
    assert (cache / "baselines.json").is_file()

    code, second, err = _baselines(cli, problems_dir, cache)
    assert code == 0
    assert "cached" in err and "scoring" not in err
    assert second[0]["cached"] is True
    assert second[0]["programs"] == toy["programs"]  # identical, timings included: not re-run


def test_a_changed_problem_is_rescored(cli, problems_dir, tmp_path):
    cache = tmp_path / "cache"
    assert _baselines(cli, problems_dir, cache)[0] == 0
    seed = problems_dir / "toy" / "seed.py"
    seed.write_text(seed.read_text().replace("a = 1.0", "a = 3.7"))
    code, results, err = _baselines(cli, problems_dir, cache)
    assert code == 0
    assert "toy: scoring seed" in err
    assert results[0]["cached"] is False
    assert _program(results[0], "seed")["stages"]["train"]["score"] == pytest.approx(100 - 3.2**2 - 3.35**2)  # c = a/2 + b


def test_refresh_recomputes_an_unchanged_problem(cli, problems_dir, tmp_path):
    cache = tmp_path / "cache"
    assert _baselines(cli, problems_dir, cache)[0] == 0
    code, results, err = _baselines(cli, problems_dir, cache, "--refresh")
    assert code == 0
    assert "toy: scoring seed" in err and results[0]["cached"] is False


def test_a_broken_folder_is_named_and_the_others_still_scored(cli, problems_dir, tmp_path):
    (problems_dir / "broken").mkdir()
    (problems_dir / "broken" / "problem.toml").write_text('name = "broken"\nseed = "missing.py"\n[evaluator]\nref = "x:y"\n')
    code, out, err = cli("problems", "--baselines", "--problems-dir", str(problems_dir), "--cache-dir", str(tmp_path / "c"))
    assert code == 2
    assert "error: 1 problem folder(s) could not be scored: broken" in err
    assert "broken: cannot load" in err and "missing.py" in err  # says why, as it goes
    assert "broken" in out and "toy" in out and "good" in out  # a row for each folder


def test_table_view_and_missing_problems_dir(cli, problems_dir, tmp_path):
    code, out, _ = cli("problems", "--baselines", "--problems-dir", str(problems_dir), "--cache-dir", str(tmp_path / "c"))
    assert code == 0
    assert "train s" in out and "test s" in out and "seed" in out
    code, _, err = cli("problems", "--baselines", "--problems-dir", str(tmp_path / "nowhere"), "--cache-dir", str(tmp_path / "c"))
    assert code == 2 and err.startswith("error: problems folder")
