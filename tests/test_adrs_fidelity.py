"""benchmarks/adrs_fidelity.py on a small fake leaderboard checkout (the real one is never shipped):
published programs are found as the leaderboard's own Solution classes find them, wrapped behind
our shims, scored through the sandbox and printed beside results.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from published_traces import tar_of, write_single
from test_spot_published import GREEDY_STRATEGY

from evaluators.spot.traces import LEADERBOARD_ENVS

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "adrs_fidelity.py"
SOLUTION_TAIL = '''

class Solution:
    def solve(self, spec_path=None):
        return {"code": "..."}
'''


def checkout(root: Path, published_cost: float) -> Path:
    rng = np.random.default_rng(1)
    traces = write_single(root / "traces", {env: [(0, (rng.random(554) < 0.6).tolist())] for env in LEADERBOARD_ENVS})
    resources = root / "problems" / "cant_be_late" / "resources"
    (resources / "programs").mkdir(parents=True)
    tar_of(traces).rename(resources / "real_traces.tar.gz")
    (resources / "programs" / "initial_greedy.py").write_text(GREEDY_STRATEGY)
    for name in ("baseline", "evolved"):
        folder = root / "solutions" / "cant_be_late" / name / "resources"
        folder.mkdir(parents=True)
        (folder / "solution.py").write_text(GREEDY_STRATEGY.replace("test_greedy", name) + SOLUTION_TAIL)
        (root / "results" / "cant_be_late" / name).mkdir(parents=True)
        (root / "results" / "cant_be_late" / name / "results.json").write_text(json.dumps({"avg_cost": published_cost}))
    return root


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def test_published_programs_are_scored_beside_their_published_numbers(tmp_path):
    root = checkout(tmp_path / "lb", published_cost=100.0)
    done = run(str(root), "--problems", "spot_single", "--write-programs", str(tmp_path / "programs"))
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("spot_single ")]
    assert [r[1] for r in rows] == ["baseline", "evolved"]
    ours = float(rows[0][2])
    assert ours == float(rows[1][2]) and 40 < ours < 147 and rows[0][3] == "100.000000" and rows[0][5] == "results.json"
    assert f"{ours - 100.0:+.2e}" == rows[0][4]
    assert "spot_single: 2/2 compared, all within 0.01: no" in done.stdout  # 100.0 is not what the program costs
    written = (tmp_path / "programs" / "spot_single" / "evolved.py").read_text()
    assert "from evaluators.shims.sky_spot import strategy_policy" in written and "class Solution" not in written


def test_a_folder_that_is_not_a_checkout_is_one_error_line(tmp_path):
    done = run(str(tmp_path), "--problems", "spot_single")
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: ") and "solutions/cant_be_late" in done.stderr
