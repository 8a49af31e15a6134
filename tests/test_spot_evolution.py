"""End to end on the shipped problem: 30 offline iterations on spot_single beat the seed, and the
exported patch applies to the seed with both `patch -p1` and `git apply`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

PROBLEM = Path(__file__).parent.parent / "problems" / "spot_single"


def test_offline_evolution_beats_seed_and_exports_a_clean_patch(cli, tmp_path):
    code, out, err = cli("run", str(PROBLEM), "--iterations", "30", "--seed", "1", "--name", "spot")
    assert code == 0, err
    status = json.loads(cli("status", "spot", "--json")[1])
    assert status["iterations_done"] == 30
    assert status["best_score"] > status["seed_score"] + 2.0  # a real improvement, in score points
    assert status["best_test_score"] is not None
    assert status["baselines"]["uniform_progress"]["train"] > status["baselines"]["greedy"]["train"]

    assert cli("export", "spot", "--out", str(tmp_path / "export"))[0] == 0
    best = (tmp_path / "export" / "best_seed.py").read_text()
    meta = json.loads((tmp_path / "export" / "best.json").read_text())
    seed_rel = meta["seed"]["path"]  # relative to the folder to apply in (the repository's top)
    assert seed_rel.endswith("spot_single/seed.py")
    for tool in (["patch", "-p1", "-i"], ["git", "apply"]):
        work = tmp_path / f"apply-{tool[0]}"
        shutil.copytree(PROBLEM, work / Path(seed_rel).parent, ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run(["git", "init", "-q"], cwd=work, check=True)
        subprocess.run([*tool, str(tmp_path / "export" / "best.patch")], cwd=work, check=True, capture_output=True)
        assert (work / seed_rel).read_text() == best
