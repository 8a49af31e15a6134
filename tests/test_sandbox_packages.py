"""Per-problem sandbox packages (issue 11 item 3): a problem folder outside the repository whose
candidate imports scipy in the sandbox and whose evaluator uses scipy on the host, run for real
under docker, bwrap and process, with the packages prepared once per set and interpreter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from backends import require
from conftest import FIXTURES

from sandboxes.packages import BASE_LABEL, PACKAGES_LABEL


@pytest.fixture(scope="module")
def package_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("evolve-cache")


@pytest.fixture
def scipy_problem(tmp_path, package_cache, monkeypatch) -> Path:
    monkeypatch.setenv("EVOLVE_CACHE_DIR", str(package_cache))
    dest = tmp_path / "erf_fit"
    shutil.copytree(FIXTURES / "scipy_problem", dest)
    return dest


def _run(cli, problem: Path, sandbox: str, name: str) -> dict:
    code, out, err = cli("run", str(problem), "--sandbox", sandbox, "--iterations", "4", "--seed", "1", "--name", name)
    assert code == 0, (out, err)
    status = json.loads(cli("status", name, "--json")[1])
    assert status["candidates_by_status"].get("valid", 0) >= 2 and status["seed_score"] > 0
    return status


def test_process_backend_gets_the_packages_from_a_prepared_folder(cli, scipy_problem, package_cache):
    _run(cli, scipy_problem, "process", "proc")
    folders = list((package_cache / "sandbox-packages").glob("*/scipy"))
    assert len(folders) == 1  # installed once, for this interpreter


def test_bwrap_binds_the_packages(cli, scipy_problem):
    require("bwrap")
    _run(cli, scipy_problem, "bwrap", "bw")


def test_docker_builds_a_derived_image_and_leaves_the_shared_tag_alone(cli, scipy_problem, tmp_path):
    require("docker")
    from sandboxes.container import docker_client
    from sandboxes.image import default_image

    client = docker_client()
    base_id = client.images.get(default_image()).id
    plain = tmp_path / "no_packages"
    shutil.copytree(scipy_problem, plain)
    toml = plain / "problem.toml"
    toml.write_text(toml.read_text().replace('packages = ["scipy"]', "packages = []"))
    code, out, err = cli("eval", str(plain), str(plain / "seed.py"), "--sandbox", "docker")
    assert code == 1 and "No module named 'scipy'" in err  # the sandbox image alone has no scipy

    _run(cli, scipy_problem, "docker", "dock")
    derived = [i for i in client.images.list() if (i.labels or {}).get(BASE_LABEL) == base_id]
    assert derived and json.loads(derived[0].labels[PACKAGES_LABEL]) == ["scipy"]
    assert any(t.startswith(default_image() + "-pkgs-") for t in derived[0].tags)
    assert client.images.get(default_image()).id == base_id  # the shared tag still names the base


def test_a_requirement_that_is_an_option_is_refused(cli, scipy_problem):
    toml = scipy_problem / "problem.toml"
    toml.write_text(toml.read_text().replace('packages = ["scipy"]', 'packages = ["--index-url=http://x"]'))
    code, out, err = cli("check", str(scipy_problem))
    assert code == 2 and "sandbox.packages" in err and "not a package requirement" in err


def test_baselines_score_each_problem_with_its_own_packages(cli, scipy_problem, tmp_path):
    """`evolve problems --baselines` gives each problem the sandbox `evolve eval` would: with one
    sandbox for all problems, the scipy problem's programs failed on the missing package."""
    require("bwrap")
    problems = tmp_path / "problems"
    problems.mkdir()
    shutil.move(scipy_problem, problems / "erf_fit")
    code, out, err = cli("problems", "--baselines", "--problems-dir", str(problems), "--sandbox", "docker", "--json", "--cache-dir", str(tmp_path / "c"))
    assert code == 0, err
    [scores] = json.loads(out)
    seed = next(p for p in scores["programs"] if p["name"] == "seed")
    assert scores["sandbox"] == "docker" and seed["stages"][scores["train_stage"]]["valid"], seed
    assert seed["stages"][scores["train_stage"]]["score"] > 0
