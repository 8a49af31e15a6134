"""Shared fixtures: the toy problem copied outside the repository, and a CLI driver."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def _process_sandbox_unless_asked(monkeypatch):
    """Tests not about sandboxes run candidates in the fast process backend (`--sandbox` wins).

    The default is `auto` (docker, else bwrap); the sandbox tests pick their backends explicitly.
    """
    monkeypatch.setenv("EVOLVE_SANDBOX", "process")


@pytest.fixture
def toy_problem(tmp_path) -> Path:
    """A copy of the toy problem in a temp folder (problems must work outside the repository)."""
    dest = tmp_path / "toy_problem"
    shutil.copytree(FIXTURES / "toy", dest)
    return dest


def set_delay(problem_dir: Path, seconds: float) -> None:
    toml = problem_dir / "problem.toml"
    toml.write_text(toml.read_text().replace("delay = 0.0", f"delay = {seconds}"))


@pytest.fixture
def cli(tmp_path, capsys, monkeypatch):
    """Run `evolve ...` in-process with a private runs folder; returns (exit code, stdout, stderr)."""
    from evolve.cli import main

    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run
