"""spot_multi: the shared spot simulator's region rules, the multi-region traces and evaluator,
the baselines' published order, and a short offline evolution that beats the seed."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from boundary import stage_result

from evaluators.protocol import StageResult
from evaluators.spot.multi import MultiRegionEvaluator
from evaluators.spot.regions import TICK_SECONDS, ZONES
from evaluators.spot.simulator import NONE, ON_DEMAND, SPOT, JobSpec, simulate
from evaluators.spot.traces import generate_trace

PROBLEM = Path(__file__).resolve().parent.parent / "problems" / "spot_multi"
PROGRAMS = {"seed": "seed.py", "greedy_rr": "baselines/greedy_rr.py", "uniform_progress_rr": "baselines/uniform_progress_rr.py"}
TICK = TICK_SECONDS / 3600


def first_then_on_demand(first: str, header: str = "") -> str:
    """Candidate code whose Policy answers `first` at tick 0, then ON_DEMAND."""
    return (
        f"NONE, SPOT, ON_DEMAND = 0, 1, 2\n{header}\n\n\nclass Policy:\n    def __init__(self, spec):\n        pass\n\n"
        f"    def decide(self, obs):\n        return {first} if obs.tick == 0 else ON_DEMAND\n"
    )


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
def short() -> MultiRegionEvaluator:
    """A 1 h job due in N ticks on 2 and on 9 regions: for answers judged per tick."""
    return MultiRegionEvaluator(job_hours=1.0, deadline_hours=N * TICK, region_counts=(2, 9))


@pytest.fixture(scope="module")
def scored(evaluator):
    """The stage result of one of the problem's programs, each scored once per module."""

    @functools.cache
    def score(name: str, stage: str) -> StageResult:
        return stage_result(evaluator, stage, (PROBLEM / PROGRAMS[name]).read_text())

    return score


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


@pytest.mark.parametrize(
    "bad",
    [(SPOT,), (ON_DEMAND, 2), (ON_DEMAND, -1), ("2", 1), (True, 1), (ON_DEMAND, True), (ON_DEMAND, 1, 0),
     (float("nan"), 1), (ON_DEMAND, 1.0), {ON_DEMAND: 1}],
)  # fmt: skip
def test_malformed_region_decisions_are_invalid(bad):
    n = N
    out = simulate(scripted([bad], default=ON_DEMAND), spec(), ((True,) * n, (True,) * n))
    assert out.invalid_decisions == 1 and out.region_switches == 0
    assert "not 0/1/2 or (0/1/2, region in 0..1)" in out.first_invalid


def test_a_list_is_the_same_decision_as_a_tuple():
    """Tuples cross the boundary as lists, so the simulator cannot and does not tell them apart."""
    avail = ((True,) * N, (True,) * N)
    as_list = simulate(scripted([[ON_DEMAND, 1]], default=ON_DEMAND), spec(), avail)
    assert as_list == simulate(scripted([(ON_DEMAND, 1)], default=ON_DEMAND), spec(), avail)
    assert as_list.region_switches == 1 and as_list.invalid_decisions == 0


def test_zone_traces_are_calibrated():
    for i, zone in enumerate(ZONES):
        trace = generate_trace(zone, np.random.default_rng(i), 200_000, TICK_SECONDS)
        assert abs(trace.mean() - zone.availability) < 0.05, zone.name


def test_grid_shape_disjoint_and_deterministic(evaluator):
    train, test = evaluator.scenarios("train"), evaluator.scenarios("test")
    assert len(train) == len(test) == 320
    assert sorted({s.spec.num_regions for s in train}) == list(range(2, 10))
    assert all(len(s.available) == s.spec.num_regions and len(s.available[0]) == 1107 for s in train)  # whole 60 h traces
    assert {s.available for s in train}.isdisjoint({s.available for s in test})
    assert [s.available for s in MultiRegionEvaluator().scenarios("train")] == [s.available for s in train]
    assert len(evaluator.scenarios("smoke")) == 8


@pytest.mark.parametrize("stage", ["train", "test"])
def test_baselines_in_published_order(scored, stage):
    scores = {name: scored(name, stage) for name in PROGRAMS}
    assert all(r.valid for r in scores.values())
    up, greedy, seed = (scores[n].metrics["score"] for n in ("uniform_progress_rr", "greedy_rr", "seed"))
    assert greedy > up > seed  # with zones that nearly always have spot, hopping beats waiting on-demand
    assert scores["greedy_rr"].metrics["region_switches"] > 1


def test_missing_deadline_and_missing_policy_are_invalid(evaluator):
    never = "class Policy:\n    def __init__(self, spec):\n        pass\n\n    def decide(self, obs):\n        return 0\n"
    result = stage_result(evaluator, "smoke", never)
    assert not result.valid and "deadline missed in 8/8" in result.reason
    assert result.metrics["score"] == 0.0
    empty = stage_result(evaluator, "smoke", "def policy(spec):\n    return None\n")
    assert not empty.valid and "no class Policy" in empty.reason


LIAR = """class Liar(list):  # claims to hold a valid move; only its real items cross
    def __getitem__(self, index):
        return [ON_DEMAND, 1][index]

    def __len__(self):
        return 2"""


@pytest.mark.parametrize(
    ("first", "header", "shown"),
    [
        ("Move()", "class Move:\n    pass", "returned a Move, which is not plain data"),
        ("Liar([ON_DEMAND, 99])", LIAR, "returned (2, 99), not 0/1/2 or (0/1/2, region in 0..1)"),
        ("(float('nan'), 1)", "", "returned (nan, 1), not 0/1/2 or (0/1/2, region in 0..1)"),
        ("(ON_DEMAND, float('nan'))", "", "returned (2, nan), not 0/1/2 or (0/1/2, region in 0..1)"),
        ("(ON_DEMAND, 1, 0)", "", "returned (2, 1, 0), not 0/1/2 or (0/1/2, region in 0..1)"),
        ("(ON_DEMAND, 99)", "", "returned (2, 99), not 0/1/2 or (0/1/2, region in 0..1)"),
    ],
    ids=["custom-object", "lying-list-subclass", "nan-cluster", "nan-region", "triple", "region-out-of-range"],
)
def test_a_malformed_move_is_counted_with_its_reason(short, first, header, shown):
    result = stage_result(short, "smoke", first_then_on_demand(first, header))
    assert result.valid is False
    assert result.metrics["invalid_decisions"] == 2 and result.metrics["deadline_misses"] == 0
    assert f"2 invalid decisions in 2/2 scenarios (first: {short.scenarios('smoke')[0].label}, tick 0: {shown}" in result.reason


def test_a_namedtuple_move_arrives_as_the_pair_it_holds(short):
    named = "from collections import namedtuple\nMove = namedtuple('Move', 'cluster region')"
    moved = stage_result(short, "smoke", first_then_on_demand("Move(ON_DEMAND, 1)", named))
    assert moved == stage_result(short, "smoke", first_then_on_demand("(ON_DEMAND, 1)"))
    assert moved.valid and moved.metrics["region_switches"] == 1.0


def test_a_tuple_subclass_is_judged_by_what_it_holds_not_what_it_claims(short):
    """Its own __iter__ and __len__ lie; what crosses the boundary is the pair it really holds."""
    header = "class Stream(tuple):\n    def __iter__(self):\n        return iter([ON_DEMAND, 1, 0])\n\n    def __len__(self):\n        return 3"
    lying = stage_result(short, "smoke", first_then_on_demand("Stream((ON_DEMAND, 1))", header))
    plain = stage_result(short, "smoke", first_then_on_demand("(ON_DEMAND, 1)"))
    assert lying == plain


def test_feedback_names_worst_scenarios(scored):
    feedback = scored("greedy_rr", "smoke").feedback
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
