"""spot_multi: the shared spot simulator's region rules, the multi-region traces and evaluator,
the baselines' published order, and a short offline evolution that beats the seed."""

from __future__ import annotations

import importlib.util
import json
import shutil
import types
from pathlib import Path

import numpy as np
import pytest

from evaluators.spot.multi import MultiRegionEvaluator
from evaluators.spot.regions import TICK_SECONDS, ZONES
from evaluators.spot.simulator import NONE, ON_DEMAND, SPOT, JobSpec, simulate
from evaluators.spot.traces import generate_trace

PROBLEM = Path(__file__).resolve().parent.parent / "problems" / "spot_multi"
TICK = TICK_SECONDS / 3600


def load_candidate(path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("candidate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scripted(decisions, default=NONE):
    """A policy returning decisions[tick] (or `default` past the end), recording what it saw."""

    class Policy:
        seen: list = []

        def __init__(self, spec):
            Policy.seen = []

        def decide(self, obs):
            Policy.seen.append((obs.tick, obs.region, obs.spot_available, obs.num_regions))
            return decisions[obs.tick] if obs.tick < len(decisions) else default

    return Policy


def spec(regions=2, job=1.0, deadline=40 * TICK, overhead=0.2):
    return JobSpec(job_hours=job, deadline_hours=deadline, restart_overhead_hours=overhead,
                   tick_hours=TICK, num_regions=regions)


N = 40  # ticks to the deadline in the hand-made scenarios


@pytest.fixture(scope="module")
def evaluator() -> MultiRegionEvaluator:
    return MultiRegionEvaluator()


@pytest.fixture(scope="module")
def programs():
    return {
        "seed": load_candidate(PROBLEM / "seed.py"),
        "greedy_rr": load_candidate(PROBLEM / "baselines" / "greedy_rr.py"),
        "uniform_progress_rr": load_candidate(PROBLEM / "baselines" / "uniform_progress_rr.py"),
    }


def test_one_region_is_the_single_region_simulator():
    rng = np.random.default_rng(3)
    bits = tuple(bool(b) for b in rng.random(N) < 0.6)
    one = JobSpec(job_hours=1.0, deadline_hours=N * TICK, restart_overhead_hours=0.2, tick_hours=TICK)
    policy = scripted([], default=ON_DEMAND)
    assert simulate(policy, one, bits) == simulate(policy, one, (bits,))


def test_moving_with_on_demand_pays_one_restart_closed_form():
    n = N
    avail = ((False,) * n, (False,) * n)
    out = simulate(scripted([(ON_DEMAND, 1)], default=ON_DEMAND), spec(), avail)
    assert out.finished and out.region_switches == 1
    assert out.on_demand_hours == pytest.approx(1.0 + 0.2)
    assert out.cost == pytest.approx(1.2 * 3.06)


def test_moving_restarts_a_running_cluster():
    n = N
    avail = ((True,) * n, (True,) * n)
    stay = simulate(scripted([], default=SPOT), spec(), avail)
    moved = simulate(scripted([SPOT] * 3 + [(SPOT, 1)], default=SPOT), spec(), avail)
    assert moved.region_switches == 1 and moved.invalid_decisions == 0
    assert moved.spot_hours == pytest.approx(stay.spot_hours + 3 * TICK)  # overhead paid twice, 3 ticks in


def test_policy_sees_only_its_current_region():
    n = N
    avail = ((False,) * n, (True,) * n)
    policy = scripted([(NONE, 1)], default=SPOT)
    out = simulate(policy, spec(), avail)
    assert policy.seen[0] == (0, 0, False, 2)
    assert policy.seen[1] == (1, 1, True, 2)
    assert out.finished and out.invalid_decisions == 0 and out.on_demand_hours == 0


def test_blind_spot_launch_into_a_region_without_spot_is_a_failed_launch_not_invalid():
    n = N
    avail = ((True,) * n, (False,) * 2 + (True,) * (n - 2))
    out = simulate(scripted([(SPOT, 1)], default=SPOT), spec(), avail)
    assert out.failed_launches == 1
    assert out.invalid_decisions == 1  # tick 1: SPOT in region 1, which it now sees has none
    assert out.first_invalid.startswith("tick 1: SPOT while spot unavailable")


@pytest.mark.parametrize("bad", [(SPOT,), (ON_DEMAND, 2), (ON_DEMAND, -1), ("2", 1), (True, 1), (ON_DEMAND, True), [ON_DEMAND, 1]])
def test_malformed_region_decisions_are_invalid(bad):
    n = N
    out = simulate(scripted([bad], default=ON_DEMAND), spec(), ((True,) * n, (True,) * n))
    assert out.invalid_decisions == 1 and out.region_switches == 0
    assert "not 0/1/2 or (0/1/2, region in 0..1)" in out.first_invalid


def test_zone_traces_are_calibrated():
    for i, zone in enumerate(ZONES):
        trace = generate_trace(zone, np.random.default_rng(i), 200_000, TICK_SECONDS)
        assert abs(trace.mean() - zone.availability) < 0.05, zone.name


def test_grid_shape_disjoint_and_deterministic(evaluator):
    train, test = evaluator.scenarios("train"), evaluator.scenarios("test")
    assert len(train) == len(test) == 320
    assert sorted({s.spec.num_regions for s in train}) == list(range(2, 10))
    assert all(len(s.available) == s.spec.num_regions and len(s.available[0]) == 960 for s in train)
    assert {s.available for s in train}.isdisjoint({s.available for s in test})
    assert [s.available for s in MultiRegionEvaluator().scenarios("train")] == [s.available for s in train]
    assert len(evaluator.scenarios("smoke")) == 8


@pytest.mark.parametrize("stage", ["train", "test"])
def test_baselines_in_published_order(evaluator, programs, stage):
    scores = {name: evaluator.run_stage(stage, module) for name, module in programs.items()}
    assert all(r.valid for r in scores.values())
    up, greedy, seed = (scores[n].metrics["score"] for n in ("uniform_progress_rr", "greedy_rr", "seed"))
    assert up > greedy > seed
    assert scores["greedy_rr"].metrics["region_switches"] > 1


def test_missing_deadline_and_missing_policy_are_invalid(evaluator):
    never = types.ModuleType("candidate")
    never.Policy = scripted([], default=NONE)
    result = evaluator.run_stage("smoke", never)
    assert not result.valid and "deadline missed in 8/8" in result.reason
    assert result.metrics["score"] == 0.0
    empty = evaluator.run_stage("smoke", types.ModuleType("candidate"))
    assert not empty.valid and "no class Policy" in empty.reason


def test_feedback_names_worst_scenarios(evaluator, programs):
    feedback = evaluator.run_stage("smoke", programs["greedy_rr"]).feedback
    assert "by region-set size" in feedback and "worst scenarios:" in feedback
    assert "region moves" in feedback


def test_short_offline_evolution_beats_the_seed(cli, tmp_path):
    problem = tmp_path / "spot_multi"
    shutil.copytree(PROBLEM, problem, ignore=shutil.ignore_patterns("__pycache__"))
    toml = problem / "problem.toml"
    toml.write_text(toml.read_text().replace("params = {}", "params = { train_windows = 6, test_windows = 3 }"))
    code, _, err = cli("run", str(problem), "--iterations", "10", "--seed", "1", "--name", "multi")
    assert code == 0, err
    status = json.loads(cli("status", "multi", "--json")[1])
    assert status["best_score"] > status["seed_score"] + 2.0
    baselines = status["baselines"]
    assert baselines["uniform_progress_rr"]["train"] > status["seed_score"]
