"""The Can't Be Late simulator, traces and evaluator (real code, real problem files)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from boundary import source_of, stage_outcome, stage_result

from evaluators.loading import load_evaluator
from evaluators.protocol import Evaluator, EvaluatorRef, StageResult
from evaluators.spot.evaluator import SpotEvaluator
from evaluators.spot.scoring import reference_costs
from evaluators.spot.simulator import NONE, ON_DEMAND, SPOT, JobSpec, simulate
from evaluators.spot.traces import TRACE_TYPES, TICK_SECONDS, generate_trace, trace_rng

PROBLEM = Path(__file__).resolve().parent.parent / "problems" / "spot_single"
PROGRAMS = {"seed": "seed.py", "greedy": "baselines/greedy.py", "up": "baselines/uniform_progress.py"}
PUBLISHED = {  # the problem README's table (2 decimals); the sealed evaluator must reproduce it
    "train": {"seed": 28.68, "greedy": 30.83, "up": 48.67},
    "test": {"seed": 28.74, "greedy": 31.30, "up": 49.52},
}
TICK = 1 / 6
CONSTANTS = "NONE, SPOT, ON_DEMAND = 0, 1, 2\n"


def program(name: str) -> str:
    return (PROBLEM / PROGRAMS[name]).read_text()


def returning(expression: str, header: str = "") -> str:
    """Candidate code whose Policy answers `expression` at every tick."""
    return (
        f"{CONSTANTS}{header}\n\n\nclass Policy:\n    def __init__(self, spec):\n        pass\n\n"
        f"    def decide(self, obs):\n        return {expression}\n"
    )


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


@pytest.fixture(scope="module")
def short() -> SpotEvaluator:
    """A 1 h job due in 2 h (12 ticks), one scenario per trace type: for answers judged per tick."""
    return SpotEvaluator(job_hours=1.0, deadlines=(2.0,), smoke_overheads=(0.05,))


@pytest.fixture(scope="module")
def always_on_demand(short) -> StageResult:
    return stage_result(short, "smoke", returning("ON_DEMAND"))


@pytest.fixture(scope="module")
def scored(evaluator):
    """The stage result of one of the problem's programs, each scored once per module."""

    @functools.cache
    def score(name: str, stage: str) -> StageResult:
        return stage_result(evaluator, stage, program(name))

    return score


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


def test_each_tick_shows_a_new_read_only_observation_of_the_state_at_its_start():
    seen = []

    class Recorder:
        def __init__(self, spec):
            pass

        def decide(self, obs):
            seen.append(obs)
            return ON_DEMAND

    spec = JobSpec(job_hours=1.0, deadline_hours=2.0, restart_overhead_hours=0.0)
    simulate(Recorder, spec, [False] * 12)
    ticks = range(6)
    assert [o.tick for o in seen] == list(ticks)  # each earlier observation still tells its own tick
    assert [o.elapsed_hours for o in seen] == pytest.approx([t * TICK for t in ticks])
    assert [o.work_done_hours for o in seen] == pytest.approx([t * TICK for t in ticks])
    assert [o.remaining_work_hours for o in seen] == pytest.approx([1.0 - t * TICK for t in ticks])
    assert [o.remaining_time_hours for o in seen] == pytest.approx([2.0 - t * TICK for t in ticks])
    assert [o.last_cluster for o in seen] == [NONE] + [ON_DEMAND] * 5
    assert {(o.spot_available, o.pending_overhead_hours, o.region, o.num_regions) for o in seen} == {(False, 0.0, 0, 1)}
    assert (seen[3].elapsed_hours, seen[3].work_done_hours, seen[3].remaining_time_hours) == pytest.approx((0.5, 0.5, 1.5))
    with pytest.raises(AttributeError):
        seen[0].tick = 5


def test_the_candidate_sees_a_fresh_read_only_observation_of_each_tick(evaluator):
    """Checked inside the candidate's process: any broken invariant raises, failing the stage."""
    code = CONSTANTS + """
class Policy:
    def __init__(self, spec):
        self.spec, self.tick, self.last, self.previous = spec, 0, NONE, None

    def decide(self, obs):
        spec = self.spec
        assert obs.tick == self.tick and obs.tick.__class__ is int, obs
        assert abs(obs.elapsed_hours - obs.tick * spec.tick_hours) < 1e-9, obs
        assert abs(obs.work_done_hours + obs.remaining_work_hours - spec.job_hours) < 1e-9, obs
        assert abs(obs.elapsed_hours + obs.remaining_time_hours - spec.deadline_hours) < 1e-9, obs
        assert obs.last_cluster == self.last and obs.spot_available.__class__ is bool, obs
        assert (obs.region, obs.num_regions) == (0, 1), obs
        assert obs is not self.previous and (self.previous is None or self.previous.tick == obs.tick - 1)
        try:
            obs.tick = 0
        except AttributeError:
            pass
        else:
            raise AssertionError("the observation could be changed")
        self.tick, self.previous = self.tick + 1, obs
        self.last = SPOT if obs.spot_available else ON_DEMAND
        return self.last
"""
    result = stage_result(evaluator, "smoke", code)  # fails the test if the candidate raised
    assert result.metrics["invalid_decisions"] == 0 and result.metrics["score"] > 0


# --- validity -------------------------------------------------------------------------------


def test_never_running_misses_every_deadline(evaluator):
    result = stage_result(evaluator, "smoke", returning("NONE"))
    assert not result.valid
    assert result.metrics["deadline_misses"] == result.metrics["scenarios"] == 24
    assert "deadline missed in 24/24 scenarios" in result.reason
    assert result.metrics["score"] == 0.0  # a miss is costed as finishing on on-demand


def test_spot_while_unavailable_is_invalid(evaluator):
    spec = JobSpec(job_hours=2.0, deadline_hours=4.0, restart_overhead_hours=0.1)
    out = simulate(constant_policy(SPOT), spec, [True] * 3 + [False] * 2 + [True] * 19)
    assert out.invalid_decisions == 2
    assert out.first_invalid == "tick 3: SPOT while spot unavailable"

    result = stage_result(evaluator, "smoke", returning("SPOT"))
    assert not result.valid
    assert result.metrics["invalid_decisions"] > 0
    assert "invalid decisions" in result.reason and ": SPOT while spot unavailable)" in result.reason


@pytest.mark.parametrize("bad", [True, 2.0, 3, -1, None, "SPOT"])
def test_only_the_int_constants_are_valid_decisions(bad):
    spec = JobSpec(job_hours=1.0, deadline_hours=2.0, restart_overhead_hours=0.1)
    out = simulate(constant_policy(bad), spec, [True] * 12)
    assert out.invalid_decisions == 12
    assert not out.finished


def test_a_numpy_int_is_judged_as_the_int_it_holds():
    """As it crosses the boundary (the local runner judges answers exactly as they arrive)."""
    spec = JobSpec(job_hours=1.0, deadline_hours=2.0, restart_overhead_hours=0.1)
    assert simulate(constant_policy(np.int64(ON_DEMAND)), spec, [True] * 12) == simulate(constant_policy(ON_DEMAND), spec, [True] * 12)


@pytest.mark.parametrize(
    ("expression", "header", "first"),
    [
        ("Decision()", "class Decision:\n    pass", "returned a Decision, which is not plain data"),
        ("float('nan')", "", "returned nan, not NONE/SPOT/ON_DEMAND (0/1/2)"),
        ("(ON_DEMAND, 0, 0)", "", "returned (2, 0, 0), not NONE/SPOT/ON_DEMAND (0/1/2)"),
        ("[ON_DEMAND]", "", "returned (2,), not NONE/SPOT/ON_DEMAND (0/1/2)"),
        ("{'cluster': ON_DEMAND}", "", "returned {'cluster': 2}, not NONE/SPOT/ON_DEMAND (0/1/2)"),
        ("2.0", "", "returned 2.0, not NONE/SPOT/ON_DEMAND (0/1/2)"),
        ("True", "", "returned True, not NONE/SPOT/ON_DEMAND (0/1/2)"),
        ("'SPOT'", "", "returned 'SPOT', not NONE/SPOT/ON_DEMAND (0/1/2)"),
    ],
    ids=["custom-object", "nan", "triple", "one-item-list", "dict", "float", "bool", "str"],
)
def test_a_decision_of_the_wrong_type_is_counted_with_its_reason(short, expression, header, first):
    result = stage_result(short, "smoke", returning(expression, header))
    assert result.valid is False
    assert result.metrics["invalid_decisions"] == 6 * 12 and result.metrics["deadline_misses"] == 6
    assert f"72 invalid decisions in 6/6 scenarios (first: {short.scenarios('smoke')[0].label}, tick 0: {first}" in result.reason


SNEAKY = """class Sneaky(int):  # equal to anything, on the candidate's side only
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__"""


@pytest.mark.parametrize(
    ("expression", "header"),
    [
        ("np.int64(ON_DEMAND)", "import numpy as np"),
        ("Sneaky(ON_DEMAND)", SNEAKY),
        ("Move(ON_DEMAND, 0)", "from collections import namedtuple\nMove = namedtuple('Move', 'cluster region')"),
    ],
    ids=["numpy-int", "int-subclass", "namedtuple-pair"],
)
def test_only_the_plain_value_of_an_answer_crosses_the_boundary(short, always_on_demand, expression, header):
    """NumPy scalars, subclasses and namedtuples arrive as the int or list they hold, nothing more."""
    assert stage_result(short, "smoke", returning(expression, header)) == always_on_demand
    assert always_on_demand.valid


class FailsToDecide:
    def __init__(self, spec):
        pass

    def decide(self, obs):
        raise ZeroDivisionError("boom")


class FailsToStart:
    def __init__(self, spec):
        raise ZeroDivisionError("boom")

    def decide(self, obs):
        return NONE


def test_policy_exceptions_propagate_from_the_local_runner():
    with pytest.raises(ZeroDivisionError):
        simulate(FailsToDecide, JobSpec(job_hours=1.0, deadline_hours=2.0), [True] * 12)


@pytest.mark.parametrize(("policy", "where"), [(FailsToStart, "__init__"), (FailsToDecide, "decide")])
def test_a_policy_that_raises_is_a_crash(evaluator, policy, where):
    code = source_of(policy, header=CONSTANTS) + f"\nPolicy = {policy.__name__}\n"
    outcome = stage_outcome(evaluator, "smoke", code)
    assert outcome.result is None and outcome.error == "crash"
    assert "ZeroDivisionError: boom" in outcome.detail and f"in {where}" in outcome.detail


@pytest.mark.parametrize("code", ["def policy(spec):\n    return None\n", "Policy = 3\n"], ids=["no-policy", "not-callable"])
def test_candidate_without_policy_is_invalid(evaluator, code):
    result = stage_result(evaluator, "smoke", code)
    assert not result.valid and "Policy" in result.reason


# --- traces and grids -------------------------------------------------------------------------


@pytest.mark.parametrize("trace_type", TRACE_TYPES, ids=lambda t: t.name)
def test_trace_availability_is_calibrated_and_comes_in_runs(trace_type):
    index = TRACE_TYPES.index(trace_type)
    traces = [generate_trace(trace_type, trace_rng(7, "train", index, k), 1728) for k in range(120)]
    mean = float(np.mean([t.mean() for t in traces]))
    assert mean == pytest.approx(trace_type.availability, abs=0.02)
    ups = sum(int(t.sum()) for t in traces)
    up_ends = sum(int(np.count_nonzero(np.diff(t.astype(np.int8)) == -1)) for t in traces)
    down_ends = sum(int(np.count_nonzero(np.diff(t.astype(np.int8)) == 1)) for t in traces)
    hours = TICK_SECONDS / 3600  # runs as long as measured on the real recordings, not coin flips
    assert ups / up_ends * hours == pytest.approx(trace_type.mean_up_hours, rel=0.25)
    assert (120 * 1728 - ups) / down_ends * hours == pytest.approx(trace_type.mean_down_hours, rel=0.25)


def test_train_grid_shape_and_disjoint_from_test(evaluator):
    train, test = evaluator.scenarios("train"), evaluator.scenarios("test")
    assert len(train) == len(test) == 1080
    assert len(evaluator.scenarios("smoke")) == 24
    # Windows that change are unique; a few that are all available or all unavailable coincide.
    train_windows = {(s.trace_type, s.available) for s in train if len(set(s.available)) > 1}
    test_windows = {(s.trace_type, s.available) for s in test if len(set(s.available)) > 1}
    assert len(train_windows) > 100 and len(test_windows) > 100
    assert not train_windows & test_windows


def test_stages_are_deterministic_per_seed():
    greedy = program("greedy")
    first = stage_result(SpotEvaluator(train_windows=3), "train", greedy)
    again = stage_result(SpotEvaluator(train_windows=3), "train", greedy)
    other = stage_result(SpotEvaluator(train_windows=3, seed=1), "train", greedy)
    assert first == again
    assert other.metrics["avg_cost"] != first.metrics["avg_cost"]


def test_small_grid_params_through_the_loader():
    ref = EvaluatorRef("evaluators.spot.evaluator:SpotEvaluator", str(PROBLEM), {"train_windows": 2})
    loaded = load_evaluator(ref)
    assert isinstance(loaded, Evaluator)
    assert stage_result(loaded, "train", program("seed")).metrics["scenarios"] == 6 * 2 * 2 * 3


# --- the problem's programs ----------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["train", "test"])
def test_uniform_progress_beats_greedy_beats_seed(scored, stage):
    results = {name: scored(name, stage) for name in PROGRAMS}
    for name, result in results.items():
        assert result.valid, (name, result.reason)
        assert 0.0 < result.metrics["on_demand_share"] < 1.0
    score = {name: r.metrics["score"] for name, r in results.items()}
    assert score["up"] > score["greedy"] + 5
    assert score["up"] > score["seed"] + 10
    assert results["up"].metrics["avg_cost"] < results["greedy"].metrics["avg_cost"]
    assert score == pytest.approx(PUBLISHED[stage], abs=0.005)


def test_seed_has_headroom_reachable_by_constant_tweaks(evaluator, scored):
    source = program("seed")
    tweaked = (
        source.replace("SAFETY_MARGIN = 2.0", "SAFETY_MARGIN = 0.5")
        .replace("RESUME_SLACK = 3.0", "RESUME_SLACK = 0.75")
        .replace("LAG_LIMIT = 6.0", "LAG_LIMIT = 0.25")
    )
    assert tweaked != source
    better = stage_result(evaluator, "train", tweaked)
    assert better.valid
    assert better.metrics["score"] > scored("seed", "train").metrics["score"] + 10


def test_feedback_names_the_worst_scenarios(scored):
    result = scored("greedy", "smoke")
    lines = result.feedback.splitlines()
    assert lines[0].startswith("smoke: avg cost $")
    worst = lines[lines.index("worst scenarios:") + 1 :]
    assert len(worst) == 5 and all("deadline" in line and "% of on-demand" in line for line in worst)
