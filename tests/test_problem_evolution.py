"""A short offline evolution on each new problem beats its seed: the seeds leave room and the
offline proposer's constant and operator mutations find it. Stages are shrunk through the
problem's evaluator params (a copy of the folder) so each run takes a few seconds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

PROBLEMS = Path(__file__).parent.parent / "problems"
SMALL = {
    "llm_routing": "params = { train_per_shape = 2, test_per_shape = 1 }",
    "vm_packing": "params = { train_per_shape = 1, test_per_shape = 1 }",
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_short_offline_evolution_beats_the_seed(cli, tmp_path, name):
    folder = tmp_path / name
    shutil.copytree(PROBLEMS / name, folder, ignore=shutil.ignore_patterns("__pycache__"))
    toml = folder / "problem.toml"
    toml.write_text(toml.read_text().replace("params = {}", SMALL[name]))
    code, _, err = cli("run", str(folder), "--iterations", "12", "--seed", "1", "--name", name)
    assert code == 0, err
    status = json.loads(cli("status", name, "--json")[1])
    assert status["iterations_done"] == 12
    assert status["best_score"] > status["seed_score"] + 0.5
    assert status["best_test_score"] is not None
