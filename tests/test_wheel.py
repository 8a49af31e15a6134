"""`pip install .` (not editable) gives a working tool (issue 11 item 1).

The wheel is built once from a copy of the source tree and installed into a fresh venv; every
check runs its `evolve` script from a folder outside the repository. The venv borrows the test
environment's third-party packages through a path file (no 50 MB download per CI run); evolve
itself, its problems, templates and sandbox files come from the wheel alone.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from backends import require
from fakellm import Call, FakeLLM, Reply, parent_code

from evolve.problems_index import shipped_root

REPO = Path(__file__).parent.parent
SKIP = shutil.ignore_patterns(".git", "build", "dist", "runs", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis")


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(REPO, source, ignore=SKIP)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(source)],
                   check=True, capture_output=True)  # fmt: skip
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next((work / "dist").glob("evolve_systems-*.whl"))
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True)
    return venv


def _evolve(venv: Path, *args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "EVOLVE_SANDBOX": "process", **(env or {})}
    return subprocess.run([str(venv / "bin" / "evolve"), *args], cwd=cwd, capture_output=True, text=True, env=environment, timeout=600)


def test_problems_are_listed_from_the_installed_package(wheel_venv, tmp_path):
    done = _evolve(wheel_venv, "problems", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    import json

    rows = json.loads(done.stdout)
    assert sorted(r["name"] for r in rows) == sorted(p.name for p in shipped_root().iterdir() if (p / "problem.toml").is_file())
    assert len(rows) == 6 and all(str(wheel_venv) in r["path"] for r in rows)


def test_a_short_spot_single_run_and_its_export(wheel_venv, tmp_path):
    done = _evolve(wheel_venv, "run", "spot_single", "--iterations", "3", "--name", "w", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "finished: all iterations done" in done.stdout
    assert (tmp_path / "runs" / "w" / "evolve.db").is_file()


def test_an_llm_run_finds_the_prompt_templates(wheel_venv, tmp_path):
    problem = tmp_path / "toy"
    shutil.copytree(REPO / "tests" / "fixtures" / "toy", problem)

    def answer(call: Call) -> Reply:
        line = re.search(r"^    a = (.+)$", parent_code(call), re.M)
        return Reply(f"<<<<<<< SEARCH\n{line.group(0)}\n=======\n    a = {float(line.group(1)) + 0.5}\n>>>>>>> REPLACE\n")

    with FakeLLM(answer) as server:
        done = _evolve(wheel_venv, "run", str(problem), "--iterations", "3", "--name", "llm", "--sandbox", "process",
                       "--model", "openai/gpt-test", "--base-url", server.openai_url, cwd=tmp_path,
                       env={"OPENAI_API_KEY": "sk-test"})  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert len(server.calls) == 3 and "## Current program" in server.calls[0].user


def test_bwrap_from_the_wheel_hides_the_evaluators(wheel_venv, tmp_path):
    require("bwrap")
    snoop = tmp_path / "snoop.py"
    snoop.write_text((shipped_root() / "spot_single" / "seed.py").read_text() + "\nimport evaluators.spot.traces\n")
    done = _evolve(wheel_venv, "eval", "spot_single", str(snoop), "--sandbox", "bwrap", cwd=tmp_path)
    assert done.returncode == 1 and "No module named 'evaluators.spot'" in done.stderr, done.stderr
    seed = _evolve(wheel_venv, "eval", "spot_single", str(shipped_root() / "spot_single" / "seed.py"), "--sandbox", "bwrap", cwd=tmp_path)
    assert seed.returncode == 0, seed.stderr


def test_sandbox_build_finds_the_dockerfile(wheel_venv, tmp_path):
    require("docker")
    base = os.environ.get("EVOLVE_BASE_IMAGE", "evolve-base:bookworm")
    tag = "evolve-sandbox:wheel-test"
    done = _evolve(wheel_venv, "sandbox", "build", "--base-image", base, "--tag", tag, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    seed = str(shipped_root() / "spot_single" / "seed.py")
    ran = _evolve(wheel_venv, "eval", "spot_single", seed, "--sandbox", "docker", cwd=tmp_path, env={"EVOLVE_SANDBOX_IMAGE": tag})
    assert ran.returncode == 0, ran.stderr
