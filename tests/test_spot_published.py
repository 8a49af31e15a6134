"""spot, published-compatible mode: the original simulator's rules, one clock per recording, and
published strategies behind the sky_spot shim, scored through the real boundary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from boundary import stage_result
from published_traces import write_multi, write_single

from evaluators.shims.sky_spot import strategy_policy
from evaluators.spot import lockstep, published_model
from evaluators.spot.evaluator import SpotEvaluator
from evaluators.spot.multi import MultiRegionEvaluator
from evaluators.spot.recorded import TraceError
from evaluators.spot.simulator import JobSpec
from evaluators.spot.timeline import clock_offsets
from evaluators.spot.traces import LEADERBOARD_ENVS

NONE, SPOT, OD = 0, 1, 2
HOUR = 3600.0


def scenario(available, job_h=1.0, deadline_h=3.0, overhead_h=0.1, gap=600, prices=None, offset=0):
    regions = available if isinstance(available[0], (list, tuple)) else [available]
    return published_model.Scenario(job_h * HOUR, deadline_h * HOUR, overhead_h * HOUR, gap, tuple(tuple(r) for r in regions),
                                    tuple(prices or (None,) * len(regions)), offset)  # fmt: skip


def always(answer):
    return lambda active, obs: [answer] * len(active)


def test_whole_ticks_are_billed_and_the_overhead_is_paid_first():
    outcome = published_model.run([scenario([False] * 40)], always(OD))[0]
    # 3600 s of work after a 360 s restart: 6.6 ticks, of which 7 are billed (ours bills 6.6)
    assert outcome.finished and not outcome.missed_deadline
    assert outcome.on_demand_hours == pytest.approx(7 * 600 / HOUR)
    assert outcome.cost == pytest.approx(7 * 600 / HOUR * 3.06)


def test_the_safety_net_finishes_a_job_that_never_asks_for_a_cluster():
    outcome = published_model.run([scenario([False] * 40)], always(NONE))[0]
    assert outcome.finished and not outcome.missed_deadline and outcome.spot_hours == 0
    assert outcome.completion_hours == pytest.approx(3.0, abs=600 / HOUR)  # forced on-demand just in time


def test_spot_without_spot_is_nothing_and_a_preemption_at_the_edge_misses_the_deadline():
    # spot for 3 ticks, then never: the job needs 6.6 ticks, the deadline is 8 ticks, d = 0.1 h
    bits = [True] * 3 + [False] * 37
    outcome = published_model.run([scenario(bits, deadline_h=8 * 600 / HOUR)], always(SPOT))[0]
    assert outcome.finished and outcome.missed_deadline  # the net kept the preempted SPOT: a lost tick
    assert outcome.failure is None


def test_moves_are_free_and_spot_is_billed_at_the_final_regions_price():
    no, yes = [False] * 40, [True] * 40
    outcome = published_model.run([scenario([no, yes], prices=[[5.0] * 40, [0.5] * 40])], always([SPOT, 1]))[0]
    assert outcome.on_demand_hours == 0 and outcome.spot_hours == pytest.approx(7 * 600 / HOUR)
    assert outcome.cost == pytest.approx(7 * 600 / HOUR * 0.5)


def test_a_window_that_ends_before_the_originals_last_look_fails_the_simulation():
    outcome = published_model.run([scenario([False] * 7, deadline_h=7 * 600 / HOUR)], always(OD))[0]
    assert not outcome.finished and "past the end of the trace" in outcome.failure


def test_clock_offsets_keep_overlapping_windows_on_one_clock():
    assert clock_offsets([(100, 150), (103, 153), (400, 420), None, (150, 160)]) == [0, 3, 0, 0, 50]


@pytest.mark.parametrize("engine", ["published", "strict"])
def test_windows_of_one_recording_show_the_same_moment_at_every_step(engine):
    recording = np.random.default_rng(3).random(80) < 0.5
    starts, seen = (100, 103), []

    def decide(active, obs):
        seen.append({int(i): int(t) for i, t in zip(active, obs["tick"])})
        return [NONE] * len(active)

    offsets = clock_offsets([(s, s + 60) for s in starts])
    windows = [recording[s - 100 : s - 100 + 60].tolist() for s in starts]
    if engine == "published":
        published_model.run([scenario(w, offset=o) for w, o in zip(windows, offsets)], decide)
    else:
        specs = [JobSpec(job_hours=1.0, deadline_hours=5.0)] * 2
        lockstep.run(specs, [(w,) for w in windows], decide, offsets)
    assert seen[0] == {0: 0}  # the later window waits for the clock to reach its start
    assert all(starts[0] + step.get(0, -99) == starts[1] + step[1] for step in seen if 1 in step and 0 in step)
    assert seen[3] == {0: 3, 1: 0}


def env_windows(count: int = 3, ticks: int = 554, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {env: [(100 * n, (rng.random(ticks) < 0.6).tolist()) for n in range(count)] for env in LEADERBOARD_ENVS}


GREEDY_STRATEGY = '''
import math
from sky_spot.strategies.strategy import Strategy
from sky_spot.utils import ClusterType


class Greedy(Strategy):
    NAME = "test_greedy"

    def _step(self, last_cluster_type, has_spot):
        gap = self.env.gap_seconds
        left = self.task_duration - sum(self.task_done_time)
        ticks_left = math.floor((self.deadline - self.env.elapsed_seconds) / gap)
        if math.ceil((left + self.restart_overhead) / gap) >= ticks_left:
            return ClusterType.ON_DEMAND
        return ClusterType.SPOT if has_spot else ClusterType.NONE

    @classmethod
    def _from_args(cls, parser):
        args, _ = parser.parse_known_args()
        return cls(args)
'''

GREEDY_POLICY = '''
import math


class Policy:
    def __init__(self, spec):
        self.gap, self.d = round(spec.tick_hours * 3600), spec.restart_overhead_hours * 3600
        self.task, self.deadline = spec.job_hours * 3600, spec.deadline_hours * 3600

    def decide(self, obs):
        left = self.task - round(obs.work_done_hours * 3600, 6)
        ticks_left = math.floor((self.deadline - obs.tick * self.gap) / self.gap)
        if math.ceil((left + self.d) / self.gap) >= ticks_left:
            return 2
        return 1 if obs.spot_available else 0
'''


def wrapped(source: str, multi: bool = False) -> str:
    return f"from evaluators.shims.sky_spot import strategy_policy\nSOURCE = {source!r}\nPolicy = strategy_policy(SOURCE, multi_region={multi})\n"


@pytest.fixture(scope="module")
def real_single(tmp_path_factory):
    return write_single(tmp_path_factory.mktemp("traces"), env_windows())


def test_real_traces_give_the_leaderboards_grid_from_a_folder_or_its_tar(real_single):
    from published_traces import tar_of

    folder = SpotEvaluator(model="published", traces=str(real_single), train_windows=2, test_windows=2)
    archived = SpotEvaluator(model="published", traces=str(tar_of(real_single)), train_windows=2)
    train = folder.grid("train")
    assert len(train.scenarios) == 6 * 2 * 2 * 3  # environments x windows x deadlines x overheads
    assert [s.window_label for s in train.scenarios[:2]] == ["us-west-2a_k80_8/0", "us-west-2a_k80_8/2"]  # spread evenly over 0, 1, 2
    assert max(train.offsets) == 200 and train.offsets == archived.grid("train").offsets  # one clock per recording
    assert [s.window_label for s in folder.grid("test").scenarios[:1]] == ["us-west-2a_k80_8/1"]  # held out: the others


def test_a_published_strategy_behind_the_shim_scores_as_the_same_policy_written_natively(real_single):
    evaluator = SpotEvaluator(model="published", traces=str(real_single), train_windows=2)
    shimmed = stage_result(evaluator, "train", wrapped(GREEDY_STRATEGY))
    native = stage_result(evaluator, "train", GREEDY_POLICY)
    assert shimmed.valid and native.valid
    assert shimmed.metrics["avg_cost"] == pytest.approx(native.metrics["avg_cost"], abs=1e-9)
    assert shimmed.metrics["published_score"] == native.metrics["published_score"]
    strict = stage_result(SpotEvaluator(traces=str(real_single), train_windows=2), "train", GREEDY_POLICY)
    assert strict.metrics["avg_cost"] < native.metrics["avg_cost"]  # ours bills the last tick partially


SCANNER = '''
from sky_spot.strategies.multi_strategy import MultiRegionStrategy
from sky_spot.utils import ClusterType


class Scanner(MultiRegionStrategy):
    NAME = "test_scanner"

    def _step(self, last_cluster_type, has_spot):
        if has_spot:
            return ClusterType.SPOT
        here = self.env.get_current_region()
        for region in range(self.env.get_num_regions()):
            self.env.switch_region(region)
            if self.env.spot_available():
                return ClusterType.SPOT
        self.env.switch_region(here)
        return ClusterType.ON_DEMAND
'''


def test_a_multi_region_strategy_sees_every_regions_present_moves_free_and_pays_its_regions_price(tmp_path):
    from evaluators.spot.grids import PUBLISHED_GROUPS

    ticks = 1107
    regions = sorted({r for _, names, _ in PUBLISHED_GROUPS for r in names})
    spot_region = "us-west-2c_v100_1"  # always has spot; every other region never does
    windows = {r: [(f"2023-03-{3 * n + 1:02d}T00:00:00", [r == spot_region] * ticks, [0.5 if r == spot_region else 9.0] * ticks)
                   for n in range(8)] for r in regions}  # fmt: skip
    evaluator = MultiRegionEvaluator(model="published", traces=str(write_multi(tmp_path, windows)))
    result = stage_result(evaluator, "train", wrapped(SCANNER, multi=True))
    by_group = {name: spot_region in names for name, names, _ in PUBLISHED_GROUPS}
    job_ticks = -(-(48 * 3600 + 720) // 195)  # work plus one restart, in whole ticks
    spot_cost, od_cost = job_ticks * 195 / 3600 * 0.5, job_ticks * 195 / 3600 * 3.06
    expected = sum(spot_cost if has else od_cost for has in by_group.values()) / len(by_group)
    assert result.valid and result.metrics["avg_cost"] == pytest.approx(expected)


def test_wrong_or_malformed_traces_fail_at_load_with_one_reason(tmp_path, real_single):
    with pytest.raises(TraceError, match="does not exist"):
        SpotEvaluator(traces=str(tmp_path / "nope"))
    (tmp_path / "plain.txt").write_text("not a tar")
    with pytest.raises(TraceError, match="neither a folder nor a readable .tar.gz"):
        SpotEvaluator(traces=str(tmp_path / "plain.txt"))
    with pytest.raises(TraceError, match="no windows for environment us-west-2b_v100_8"):
        SpotEvaluator(traces=str(real_single), trace_types=["us-west-2b_v100_8"])
    broken = write_single(tmp_path / "broken", {"us-west-2a_k80_8": [(0, [True] * 554)]})
    (broken / "real/ddl=search+task=48+overhead=0.02/real/us-west-2a_k80_8/traces/random_start/0.json").write_text('{"data": [2]}')
    with pytest.raises(TraceError, match="0.json is not a published trace file"):
        SpotEvaluator(traces=str(broken), trace_types=["us-west-2a_k80_8"])


def test_eval_names_a_wrong_trace_path_in_one_error_line(cli, tmp_path):
    seed = Path(__file__).resolve().parent.parent / "problems" / "spot_single" / "seed.py"
    code, out, err = cli("eval", "spot_single", str(seed), "--param", "model=published", "--param", f"traces={tmp_path}/nope")
    assert code == 2 and err.strip().count("\n") == 0 and err.startswith("error: ") and "does not exist" in err


def test_eval_params_override_the_problems_evaluator_params(cli, real_single):
    greedy = Path(__file__).resolve().parent.parent / "problems" / "spot_single" / "baselines" / "greedy.py"
    code, out, err = cli("eval", "spot_single", str(greedy), "--json", "--param", "train_windows=1", "--param", "test_windows=1",
                         "--param", "model=published", "--param", f"traces={real_single}")  # fmt: skip
    assert code == 0, err
    stages = json.loads(out)["stages"]
    assert stages["train"]["metrics"]["scenarios"] == 6 * 1 * 2 * 3 and "published_score" in stages["train"]["metrics"]
    assert stages["smoke"]["metrics"]["scenarios"] == 24  # smoke stays synthetic


def test_a_run_on_a_problem_folder_with_a_wrong_trace_path_stores_nothing(cli, tmp_path):
    import shutil

    problem = tmp_path / "mine"
    shutil.copytree(Path(__file__).resolve().parent.parent / "problems" / "spot_single", problem, ignore=shutil.ignore_patterns("__pycache__"))
    toml = problem / "problem.toml"
    toml.write_text(toml.read_text().replace("params = {}", f'params = {{ model = "published", traces = "{tmp_path}/nope" }}'))
    code, out, err = cli("run", str(problem), "--iterations", "1", "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and err.startswith("error: ") and "does not exist" in err and err.strip().count("\n") == 0
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
