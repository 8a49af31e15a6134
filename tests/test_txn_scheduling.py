"""txn_scheduling: the exact cost model, the workloads, every validation rule, the baselines'
order and a short offline evolution that beats the seed."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from boundary import source_of, stage_result

from evaluators.protocol import StageResult
from evaluators.txn.cost import Compiled, makespan, start_times
from evaluators.txn.evaluator import TxnEvaluator, normalised_score
from evaluators.txn.view import Workload
from evaluators.txn.workloads import make_workload

PROBLEM = Path(__file__).resolve().parent.parent / "problems" / "txn_scheduling"
R, W = False, True


PROGRAMS = {"sequential": "baselines/sequential.py", "smf": "baselines/smf.py", "seed": "seed.py"}


def returning(expression: str, header: str = "") -> str:
    """Candidate code whose schedule(workload) returns `expression` (of n, the number of transactions)."""
    return f"import numpy as np\n{header}\n\n\ndef schedule(workload):\n    n = workload.num_txns\n    return {expression}\n"


def compiled(*txns) -> Compiled:
    return Compiled(txns, 1 + max(k for t in txns for _, k in t))


@pytest.fixture(scope="module")
def evaluator() -> TxnEvaluator:
    return TxnEvaluator()


@pytest.fixture(scope="module")
def scored(evaluator):
    """The stage result of one of the problem's programs, each scored once per module."""

    @functools.cache
    def score(name: str, stage: str) -> StageResult:
        return stage_result(evaluator, stage, (PROBLEM / PROGRAMS[name]).read_text())

    return score


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


def test_sequential_scores_zero_and_smf_beats_it(scored):
    for stage in ("train", "test"):
        s, g, d = (scored(name, stage) for name in ("sequential", "smf", "seed"))
        assert s.valid and g.valid and d.valid
        assert s.metrics["score"] == 0.0 and s.metrics["makespan"] == s.metrics["sequential_makespan"]
        assert g.metrics["makespan"] < d.metrics["makespan"] < s.metrics["makespan"]
        assert g.metrics["improvement_vs_sequential"] > 0.15


def test_numpy_int_arrays_and_numpy_ints_are_accepted_as_the_order_they_hold(evaluator):
    plain = stage_result(evaluator, "smoke", returning("list(range(n))[::-1]"))
    assert plain.valid and plain.metrics["score"] >= 0
    for expression in ("np.arange(n)[::-1]", "[np.int64(i) for i in range(n)][::-1]"):
        assert stage_result(evaluator, "smoke", returning(expression)).metrics["makespan"] == plain.metrics["makespan"]


LIAR = """class Liar(list):  # looks like the identity order; only the items it holds cross
    def __getitem__(self, index):
        return list(range(len(self)))[index]

    def __contains__(self, item):
        return True"""


@pytest.mark.parametrize(
    ("expression", "header", "reason"),
    [
        ("None", "", "returned NoneType, not a list"),
        ("{str(i): i for i in range(n)}", "", "returned dict, not a list"),
        ("np.arange(n).reshape(10, -1)", "", "not a 1-D order"),
        ("list(range(n - 1))", "", "returned 99 entries for 100"),
        ("list(range(n)) + [0]", "", "returned 101 entries for 100"),
        ("[float(i) for i in range(n)]", "", "entry 0 is 0.0 (float)"),
        ("np.arange(n, dtype=float)", "", "entry 0 is 0.0 (float)"),
        ("[float('nan')] + list(range(1, n))", "", "entry 0 is nan (float)"),
        ("[True] + list(range(1, n))", "", "entry 0 is True (bool)"),
        ("['0'] + list(range(1, n))", "", "entry 0 is '0' (str)"),
        ("[[i] for i in range(n)]", "", "entry 0 is [0] (list)"),
        ("[n] + list(range(1, n))", "", "entry 0 is 100, outside 0..99"),
        ("[-1] + list(range(1, n))", "", "entry 0 is -1, outside 0..99"),
        ("[1] + list(range(1, n))", "", "transaction 1 is scheduled twice (transaction 0 is missing)"),
        ("Liar([1] + list(range(1, n)))", LIAR, "transaction 1 is scheduled twice (transaction 0 is missing)"),
        ("Order()", "class Order:\n    pass", "schedule returned a Order, which is not plain data"),
    ],
)
def test_each_validation_rule_rejects_its_hack(evaluator, expression, header, reason):
    result = stage_result(evaluator, "smoke", returning(expression, header))
    assert result.valid is False and result.metrics["score"] == 0.0
    assert result.reason.startswith("workload smoke#0: ") and reason in result.reason


def test_a_dict_with_int_keys_is_judged_and_rejected_with_its_reason(evaluator):
    result = stage_result(evaluator, "smoke", returning("{i: i for i in range(n)}"))
    assert result.valid is False and "returned dict, not a list of transaction indices" in result.reason


def tamper(workload):
    import evaluators.txn.cost as cost  # the candidate's own copy, in its own process

    workload._c.lengths = (1,) * workload.num_txns
    workload._c.cons = tuple(((), (), (), ()) for _ in range(workload.num_txns))
    cost.makespan = lambda compiled, order: 0
    return list(range(workload.num_txns))


def test_tampering_with_the_view_cannot_change_the_score(evaluator):
    result = stage_result(evaluator, "smoke", source_of(tamper) + "\nschedule = tamper\n")
    assert result.valid and result.metrics["score"] == 0.0  # scored as the sequential order it is
    assert result.metrics["makespan"] == result.metrics["sequential_makespan"] > 0


def test_missing_function_and_feedback(evaluator, scored):
    assert "no function schedule" in stage_result(evaluator, "smoke", "SCHEDULE = []\n").reason
    feedback = scored("smf", "train").feedback
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
