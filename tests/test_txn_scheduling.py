"""txn_scheduling: the exact cost model, the workloads, every validation rule, the baselines'
order and a short offline evolution that beats the seed."""

from __future__ import annotations

import importlib.util
import json
import shutil
import types
from pathlib import Path

import numpy as np
import pytest

from evaluators.txn.cost import Compiled, makespan, start_times
from evaluators.txn.evaluator import TxnEvaluator, normalised_score
from evaluators.txn.view import Workload
from evaluators.txn.workloads import make_workload

PROBLEM = Path(__file__).resolve().parent.parent / "problems" / "txn_scheduling"
R, W = False, True


def load_candidate(path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("candidate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def returning(fn) -> types.ModuleType:
    module = types.ModuleType("candidate")
    module.schedule = fn
    return module


def compiled(*txns) -> Compiled:
    return Compiled(txns, 1 + max(k for t in txns for _, k in t))


@pytest.fixture(scope="module")
def evaluator() -> TxnEvaluator:
    return TxnEvaluator()


def test_conflicts_wait_for_the_lock_to_be_released_at_commit():
    c = compiled(((W, 0),) + ((R, 5),) * 9, ((W, 0),))
    assert start_times(c, [0, 1]) == [0, 10]  # the write lock on 0 is held until T0 ends at 10
    assert makespan(c, [0, 1]) == 11
    assert start_times(c, [1, 0]) == [0, 1]
    assert makespan(c, [1, 0]) == 11


def test_operation_position_offsets_the_start():
    c = compiled(((W, 0), (R, 1)), ((R, 2),) * 5 + ((R, 0),))
    assert start_times(c, [0, 1]) == [0, 0]  # its read of 0 at position 5 is already past T0's end (2)
    c = compiled(((W, 0),) * 8, ((R, 2),) * 3 + ((W, 0),))
    assert start_times(c, [0, 1]) == [0, 8 - 3]


def test_read_read_does_not_conflict_but_read_write_does():
    readers = compiled(((R, 0), (R, 1)), ((R, 0),), ((R, 1), (R, 0)))
    assert start_times(readers, [0, 1, 2]) == [0, 0, 0]
    c = compiled(((R, 1), (R, 0)), ((W, 1),))
    assert start_times(c, [0, 1]) == [0, 2]  # write after read waits for the read lock
    assert start_times(c, [1, 0]) == [0, 1]  # read after write waits for the write lock


def test_closed_form_extremes():
    disjoint = compiled(*[tuple((W, 10 * j + i) for i in range(4 + j)) for j in range(5)])
    assert makespan(disjoint, range(5)) == 8  # everything starts at 0: the longest transaction
    chain = compiled(*[((W, 0),) + ((R, 1 + j),) * j for j in range(5)])
    assert makespan(chain, range(5)) == sum(1 + j for j in range(5))  # fully serial


def test_schedule_helper_matches_the_scorer_and_peek_changes_nothing():
    w = make_workload(7, "train", 0)
    view, c = Workload(w.txns, w.num_keys, w.seed), Compiled(w.txns, w.num_keys)
    order = list(np.random.default_rng(0).permutation(len(w.txns)).tolist())
    sched = view.new_schedule()
    for j in order:
        before = sched.makespan
        predicted = sched.peek(j)
        assert sched.makespan == before
        assert sched.append(j) == predicted
    assert sched.makespan == makespan(c, order) == view.makespan(order)
    with pytest.raises(ValueError, match="already scheduled"):
        sched.peek(order[0])


def test_workloads_are_calibrated_deterministic_and_disjoint():
    w = make_workload(1, "train", 3)
    assert w == make_workload(1, "train", 3)
    assert len(w.txns) == 100 and 14.5 < np.mean([len(t) for t in w.txns]) < 17.5
    ops = [op for t in w.txns for op in t]
    assert 0.25 < np.mean([write for write, _ in ops]) < 0.35
    counts = np.bincount([k for _, k in ops])
    hottest = int(counts.argmax())
    assert sum(any(k == hottest for _, k in t) for t in w.txns) > 60  # skew: the hot key is everywhere
    assert make_workload(1, "test", 3).txns != w.txns


def test_score_anchors():
    assert normalised_score(1000, 1000, 20) == 0.0
    assert normalised_score(20 + 98, 1000, 20) == 100.0
    assert normalised_score(559, 1000, 20) == pytest.approx(50.0)


def test_sequential_scores_zero_and_smf_beats_it(evaluator):
    seq = load_candidate(PROBLEM / "baselines" / "sequential.py")
    smf = load_candidate(PROBLEM / "baselines" / "smf.py")
    seed = load_candidate(PROBLEM / "seed.py")
    for stage in ("train", "test"):
        s, g, d = (evaluator.run_stage(stage, m) for m in (seq, smf, seed))
        assert s.valid and g.valid and d.valid
        assert s.metrics["score"] == 0.0 and s.metrics["makespan"] == s.metrics["sequential_makespan"]
        assert g.metrics["makespan"] < d.metrics["makespan"] < s.metrics["makespan"]
        assert g.metrics["improvement_vs_sequential"] > 0.15


def test_numpy_int_arrays_are_accepted(evaluator):
    result = evaluator.run_stage("smoke", returning(lambda w: np.arange(w.num_txns)[::-1]))
    assert result.valid and result.metrics["score"] >= 0


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda n: None, "returned NoneType, not a list"),
        (lambda n: {i: i for i in range(n)}, "returned dict, not a list"),
        (lambda n: np.arange(n).reshape(10, -1), "not a 1-D order"),
        (lambda n: list(range(n - 1)), "returned 99 entries for 100"),
        (lambda n: list(range(n)) + [0], "returned 101 entries for 100"),
        (lambda n: [float(i) for i in range(n)], "entry 0 is 0.0 (float)"),
        (lambda n: [float("nan")] + list(range(1, n)), "entry 0 is nan (float)"),
        (lambda n: [True] + list(range(1, n)), "entry 0 is True (bool)"),
        (lambda n: ["0"] + list(range(1, n)), "entry 0 is '0' (str)"),
        (lambda n: [n] + list(range(1, n)), "entry 0 is 100, outside 0..99"),
        (lambda n: [-1] + list(range(1, n)), "entry 0 is -1, outside 0..99"),
        (lambda n: [1] + list(range(1, n)), "transaction 1 is scheduled twice (transaction 0 is missing)"),
    ],
)
def test_each_validation_rule_rejects_its_hack(evaluator, make, reason):
    result = evaluator.run_stage("smoke", returning(lambda w: make(w.num_txns)))
    assert not result.valid and result.metrics["score"] == 0.0
    assert reason in result.reason


def test_tampering_with_the_view_cannot_change_the_score(evaluator):
    def tamper(w):
        w._c.lengths = (1,) * w.num_txns
        w._c.cons = tuple(((), (), (), ()) for _ in range(w.num_txns))
        return list(range(w.num_txns))

    result = evaluator.run_stage("smoke", returning(tamper))
    assert result.valid and result.metrics["score"] == 0.0  # scored as the sequential order it is


def test_missing_function_and_feedback(evaluator):
    assert "no function schedule" in evaluator.run_stage("smoke", types.ModuleType("c")).reason
    feedback = evaluator.run_stage("train", load_candidate(PROBLEM / "baselines" / "smf.py")).feedback
    assert "worst workloads" in feedback and "train#" in feedback


def test_short_offline_evolution_beats_the_seed(cli, tmp_path):
    problem = tmp_path / "txn_scheduling"
    shutil.copytree(PROBLEM, problem, ignore=shutil.ignore_patterns("__pycache__"))
    toml = problem / "problem.toml"
    toml.write_text(toml.read_text().replace("params = {}", "params = { train_workloads = 6, test_workloads = 3 }"))
    code, _, err = cli("run", str(problem), "--iterations", "10", "--seed", "1", "--name", "txn")
    assert code == 0, err
    status = json.loads(cli("status", "txn", "--json")[1])
    assert status["best_score"] > status["seed_score"] + 2.0
    assert status["baselines"]["smf"]["train"] > status["baselines"]["sequential"]["train"] == 0.0
