"""The Can't Be Late simulator, traces and evaluator (real code, real problem files)."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import numpy as np
import pytest

from evaluators.loading import load_evaluator
from evaluators.protocol import Evaluator, EvaluatorRef
from evaluators.spot.evaluator import SpotEvaluator
from evaluators.spot.scoring import reference_costs
from evaluators.spot.simulator import NONE, ON_DEMAND, SPOT, JobSpec, simulate
from evaluators.spot.traces import TRACE_TYPES, TICK_SECONDS, generate_trace, trace_rng

PROBLEM = Path(__file__).resolve().parent.parent / "problems" / "spot_single"
TICK = 1 / 6


def load_candidate(path: Path) -> types.ModuleType:
    """Load a program the way the sandbox runner does."""
    spec = importlib.util.spec_from_file_location("candidate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def module_with(policy_cls) -> types.ModuleType:
    module = types.ModuleType("candidate")
    module.Policy = policy_cls
    return module


def constant_policy(choice):
    class Policy:
        def __init__(self, spec):
            pass

        def decide(self, obs):
            return choice

    return Policy


class SpotWhenAvailable:
    def __init__(self, spec):
        pass

    def decide(self, obs):
        return SPOT if obs.spot_available else NONE


@pytest.fixture(scope="module")
def evaluator() -> SpotEvaluator:
    return SpotEvaluator()


# --- accounting -------------------------------------------------------------------------------


@pytest.mark.parametrize("overhead", [0.02, 0.05, 0.1, 0.2, 0.4])
@pytest.mark.parametrize("deadline", [52.0, 70.0])
def test_all_on_demand_matches_closed_form(overhead, deadline):
    spec = JobSpec(job_hours=48.0, deadline_hours=deadline, restart_overhead_hours=overhead)
    out = simulate(constant_policy(ON_DEMAND), spec, [False] * 420)
    assert out.finished and out.invalid_decisions == 0
    assert out.cost == pytest.approx((48.0 + overhead) * 3.06, abs=1e-9)
    assert out.cost == pytest.approx(reference_costs(spec)[0], abs=1e-9)
    assert out.end_hours == pytest.approx(48.0 + overhead, abs=1e-9)  # partial last tick not billed
    assert out.spot_hours == 0.0


def test_only_the_needed_part_of_the_last_tick_is_billed():
    spec = JobSpec(job_hours=1.0, deadline_hours=2.0, restart_overhead_hours=0.05)
    out = simulate(constant_policy(SPOT), spec, [True] * 12)
    assert out.spot_hours == pytest.approx(1.05)
    assert out.cost == pytest.approx(1.05 * 0.9731)


def test_preemption_charges_one_restart_overhead():
    d = 0.1
    spec = JobSpec(job_hours=2.0, deadline_hours=4.0, restart_overhead_hours=d)
    available = [True] * 6 + [False] * 6 + [True] * 12
    preempted = simulate(SpotWhenAvailable, spec, available)
    steady = simulate(SpotWhenAvailable, spec, [True] * 24)
    assert preempted.finished and steady.finished
    assert steady.spot_hours == pytest.approx(2.0 + d)
    assert preempted.spot_hours == pytest.approx(2.0 + 2 * d)
    assert preempted.end_hours == pytest.approx(1.0 + 1.0 + (2.0 - (1.0 - d)) + d)


def test_switching_type_restarts_the_overhead():
    d = 0.4  # longer than a tick: paid over several ticks

    class SpotThenOnDemand:
        def __init__(self, spec):
            self.seen = []

        def decide(self, obs):
            self.seen.append(obs.pending_overhead_hours)
            return SPOT if obs.tick < 3 else ON_DEMAND

    policy = None

    def factory(spec):
        nonlocal policy
        policy = SpotThenOnDemand(spec)
        return policy

    spec = JobSpec(job_hours=2.0, deadline_hours=4.0, restart_overhead_hours=d)
    out = simulate(factory, spec, [True] * 24)
    # 3 spot ticks: 0.4 h overhead + 0.1 h work; then on-demand: 0.4 h overhead + 1.9 h work.
    assert out.spot_hours == pytest.approx(0.5)
    assert out.on_demand_hours == pytest.approx(2.3)
    assert policy.seen[:4] == pytest.approx([0.0, d - TICK, d - 2 * TICK, 0.0])


def test_same_observation_object_is_reused_and_reports_state():
    seen = []

    class Recorder:
        def __init__(self, spec):
            pass

        def decide(self, obs):
            seen.append((obs, obs.tick, obs.elapsed_hours, obs.work_done_hours, obs.remaining_time_hours))
            return ON_DEMAND

    spec = JobSpec(job_hours=1.0, deadline_hours=2.0, restart_overhead_hours=0.0)
    simulate(Recorder, spec, [False] * 12)
    assert len(seen) == 6 and all(entry[0] is seen[0][0] for entry in seen)
    assert [entry[1] for entry in seen] == list(range(6))
    assert seen[3][2:] == pytest.approx((0.5, 0.5, 1.5))


# --- validity -------------------------------------------------------------------------------


def test_never_running_misses_every_deadline(evaluator):
    result = evaluator.run_stage("smoke", module_with(constant_policy(NONE)))
    assert not result.valid
    assert result.metrics["deadline_misses"] == result.metrics["scenarios"] == 24
    assert "deadline missed in 24/24 scenarios" in result.reason
    assert result.metrics["score"] == 0.0  # a miss is costed as finishing on on-demand


def test_spot_while_unavailable_is_invalid(evaluator):
    spec = JobSpec(job_hours=2.0, deadline_hours=4.0, restart_overhead_hours=0.1)
    out = simulate(constant_policy(SPOT), spec, [True] * 3 + [False] * 2 + [True] * 19)
    assert out.invalid_decisions == 2
    assert out.first_invalid == "tick 3: SPOT while spot unavailable"

    result = evaluator.run_stage("smoke", module_with(constant_policy(SPOT)))
    assert not result.valid
    assert result.metrics["invalid_decisions"] > 0
    assert "invalid decisions" in result.reason


@pytest.mark.parametrize("bad", [True, 2.0, 3, -1, None, "SPOT", np.int64(2)])
def test_only_the_int_constants_are_valid_decisions(bad):
    spec = JobSpec(job_hours=1.0, deadline_hours=2.0, restart_overhead_hours=0.1)
    out = simulate(constant_policy(bad), spec, [True] * 12)
    assert out.invalid_decisions == 12
    assert not out.finished


def test_policy_exceptions_propagate(evaluator):
    class Broken:
        def __init__(self, spec):
            pass

        def decide(self, obs):
            raise ZeroDivisionError("boom")

    with pytest.raises(ZeroDivisionError):
        evaluator.run_stage("smoke", module_with(Broken))


def test_candidate_without_policy_is_invalid(evaluator):
    result = evaluator.run_stage("smoke", types.ModuleType("candidate"))
    assert not result.valid and "Policy" in result.reason


# --- traces and grids -------------------------------------------------------------------------


@pytest.mark.parametrize("trace_type", TRACE_TYPES, ids=lambda t: t.name)
def test_trace_availability_is_calibrated_and_comes_in_runs(trace_type):
    index = TRACE_TYPES.index(trace_type)
    traces = [generate_trace(trace_type, trace_rng(7, "train", index, k), 1728) for k in range(120)]
    mean = float(np.mean([t.mean() for t in traces]))
    assert mean == pytest.approx(trace_type.availability, abs=0.02)
    changes = sum(int(np.count_nonzero(np.diff(t.astype(np.int8)))) for t in traces)
    mean_run_hours = 120 * 1728 / (changes + 120) * TICK_SECONDS / 3600
    assert mean_run_hours > 1.0  # hours-long runs, not per-tick coin flips


def test_train_grid_shape_and_disjoint_from_test(evaluator):
    train, test = evaluator.scenarios("train"), evaluator.scenarios("test")
    assert len(train) == len(test) == 1080
    assert len(evaluator.scenarios("smoke")) == 24
    # Windows with any preemption are unique; a few always-available 2a_k80_1 windows coincide.
    train_windows = {(s.trace_type, s.available) for s in train if not all(s.available)}
    test_windows = {(s.trace_type, s.available) for s in test if not all(s.available)}
    assert len(train_windows) > 100 and len(test_windows) > 100
    assert not train_windows & test_windows


def test_stages_are_deterministic_per_seed():
    greedy = load_candidate(PROBLEM / "baselines" / "greedy.py")
    first = SpotEvaluator(train_windows=3).run_stage("train", greedy)
    again = SpotEvaluator(train_windows=3).run_stage("train", greedy)
    other = SpotEvaluator(train_windows=3, seed=1).run_stage("train", greedy)
    assert first == again
    assert other.metrics["avg_cost"] != first.metrics["avg_cost"]


def test_small_grid_params_through_the_loader():
    ref = EvaluatorRef("evaluators.spot.evaluator:SpotEvaluator", str(PROBLEM), {"train_windows": 2})
    loaded = load_evaluator(ref)
    assert isinstance(loaded, Evaluator)
    assert loaded.run_stage("train", load_candidate(PROBLEM / "seed.py")).metrics["scenarios"] == 6 * 2 * 2 * 5


# --- the problem's programs ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def programs():
    return {
        "seed": load_candidate(PROBLEM / "seed.py"),
        "greedy": load_candidate(PROBLEM / "baselines" / "greedy.py"),
        "up": load_candidate(PROBLEM / "baselines" / "uniform_progress.py"),
    }


@pytest.mark.parametrize("stage", ["train", "test"])
def test_uniform_progress_beats_greedy_beats_seed(evaluator, programs, stage):
    results = {name: evaluator.run_stage(stage, module) for name, module in programs.items()}
    for name, result in results.items():
        assert result.valid, (name, result.reason)
        assert 0.0 < result.metrics["on_demand_share"] < 1.0
    score = {name: r.metrics["score"] for name, r in results.items()}
    assert score["up"] > score["greedy"] + 5
    assert score["up"] > score["seed"] + 10
    assert results["up"].metrics["avg_cost"] < results["greedy"].metrics["avg_cost"]


def test_seed_has_headroom_reachable_by_constant_tweaks(evaluator):
    source = (PROBLEM / "seed.py").read_text()
    tweaked = (
        source.replace("SAFETY_MARGIN = 2.0", "SAFETY_MARGIN = 0.5")
        .replace("RESUME_SLACK = 3.0", "RESUME_SLACK = 0.75")
        .replace("LAG_LIMIT = 6.0", "LAG_LIMIT = 0.25")
    )
    assert tweaked != source
    module = types.ModuleType("candidate")
    exec(compile(tweaked, "tweaked_seed.py", "exec"), module.__dict__)
    base = evaluator.run_stage("train", load_candidate(PROBLEM / "seed.py"))
    better = evaluator.run_stage("train", module)
    assert better.valid
    assert better.metrics["score"] > base.metrics["score"] + 10


def test_feedback_names_the_worst_scenarios(evaluator, programs):
    result = evaluator.run_stage("smoke", programs["greedy"])
    lines = result.feedback.splitlines()
    assert lines[0].startswith("smoke: avg cost $")
    worst = lines[lines.index("worst scenarios:") + 1 :]
    assert len(worst) == 5 and all("deadline" in line and "% of on-demand" in line for line in worst)
