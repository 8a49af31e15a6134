"""txn_scheduling: the exact cost models (ADRS's per-step locks, strict 2PL), the workloads, every
validation rule, the baselines' order and a short offline evolution that beats the seed."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from boundary import source_of, stage_result

from evaluators.protocol import StageResult
from evaluators.txn.adrs_format import parse
from evaluators.txn.cost import IDLE, Compiled, makespan, start_times
from evaluators.txn.evaluator import TxnEvaluator, normalised_score
from evaluators.txn.view import Workload
from evaluators.txn.workloads import WorkloadError, load_published, make_workload

PROBLEM = Path(__file__).resolve().parent.parent / "problems" / "txn_scheduling"
R, W = False, True


PROGRAMS = {"sequential": "baselines/sequential.py", "smf": "baselines/smf.py", "seed": "seed.py"}


def returning(expression: str, header: str = "") -> str:
    """Candidate code whose schedule(workload) returns `expression` (of n, the number of transactions)."""
    return f"import numpy as np\n{header}\n\n\ndef schedule(workload):\n    n = workload.num_txns\n    return {expression}\n"


def compiled(*txns, model: str = "per_step") -> Compiled:
    return Compiled(txns, 1 + max(k for t in txns for _, k in t), model)


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


def test_per_step_locks_end_with_their_own_step():
    c = compiled(((W, 0),) + ((R, 5),) * 9, ((W, 0),))
    assert start_times(c, [0, 1]) == [0, 1]  # T0's write of 0 holds the key during its first step only
    assert makespan(c, [0, 1]) == 10
    assert start_times(c, [1, 0]) == [0, 1] and makespan(c, [1, 0]) == 11


def test_strict_2pl_holds_the_lock_until_commit():
    c = compiled(((W, 0),) + ((R, 5),) * 9, ((W, 0),), model="strict_2pl")
    assert start_times(c, [0, 1]) == [0, 10]  # the write lock on 0 is held until T0 ends at 10
    assert makespan(c, [0, 1]) == 11
    assert start_times(c, [1, 0]) == [0, 1]
    assert makespan(c, [1, 0]) == 11


@pytest.mark.parametrize("model", ["per_step", "strict_2pl"])
def test_operation_position_offsets_the_start(model):
    c = compiled(((W, 0), (R, 1)), ((R, 2),) * 5 + ((R, 0),), model=model)
    assert start_times(c, [0, 1]) == [0, 0]  # its read of 0 at position 5 is already past T0's write
    c = compiled(((W, 0),) * 8, ((R, 2),) * 3 + ((W, 0),), model=model)
    assert start_times(c, [0, 1]) == [0, 8 - 3]


@pytest.mark.parametrize("model, after_read", [("per_step", 1), ("strict_2pl", 2)])
def test_read_read_does_not_conflict_but_read_write_does(model, after_read):
    readers = compiled(((R, 0), (R, 1)), ((R, 0),), ((R, 1), (R, 0)), model=model)
    assert start_times(readers, [0, 1, 2]) == [0, 0, 0]
    c = compiled(((R, 1), (R, 0)), ((W, 1),), model=model)
    assert start_times(c, [0, 1]) == [0, after_read]  # write after read waits for the read lock
    assert start_times(c, [1, 0]) == [0, 1]  # read after write waits for the write lock


def test_idle_steps_take_time_but_lock_nothing():
    c = compiled(((R, 0), (R, IDLE), (R, IDLE), (W, 1)), ((W, 0), (R, IDLE)), ((R, IDLE), (R, IDLE)))
    assert c.lengths == (4, 2, 0)  # a transaction of idle steps only takes no time (as ADRS's simulator)
    assert start_times(c, [0, 1, 2]) == [0, 1, 0] and makespan(c, [0, 1, 2]) == 4


@pytest.mark.parametrize("model, chained", [("per_step", 9), ("strict_2pl", 15)])
def test_closed_form_extremes(model, chained):
    disjoint = compiled(*[tuple((W, 10 * j + i) for i in range(4 + j)) for j in range(5)], model=model)
    assert makespan(disjoint, range(5)) == 8  # everything starts at 0: the longest transaction
    chain = compiled(*[((W, 0),) + ((R, 1 + j),) * j for j in range(5)], model=model)
    assert makespan(chain, range(5)) == chained  # serial under 2PL; per step, each waits one step only


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


def test_workloads_have_the_published_shapes_and_are_deterministic_and_disjoint():
    dense, pairs, read_write = (make_workload(1, "train", i) for i in range(3))
    assert dense == make_workload(1, "train", 0) and make_workload(1, "test", 0).txns != dense.txns
    assert all(len(t) == 16 and len({k for _, k in t}) == 16 for t in dense.txns)
    counts = np.bincount([k for t in dense.txns for _, k in t])
    assert (counts == 100).sum() == 4  # four hot keys in every transaction
    assert 0.45 < np.mean([w for t in dense.txns for w, _ in t]) < 0.65
    assert sorted({len(t) for t in pairs.txns}) == [5, 21]  # 2-4 operations and idle steps
    assert {sum(k != IDLE for _, k in t) for t in pairs.txns} == {3, 4}
    assert {len(t) for t in read_write.txns} == {9} and read_write.num_keys <= 10


def test_published_workloads_are_read_from_python_or_json(tmp_path):
    source = '{"txn0": "w-17 r-5 * w-3", "txn1": "r-17 r-280 w-3"}'
    (tmp_path / "workloads.py").write_text(f'"""doc"""\n\nWORKLOAD_1 = {source!r}\nWORKLOAD_2 = {source!r}\nOTHER = 3\n')
    (tmp_path / "w.json").write_text(json.dumps({"a": json.loads(source)}))
    loaded = load_published(tmp_path / "workloads.py")
    assert [w.label for w in loaded] == ["WORKLOAD_1", "WORKLOAD_2"]
    expected = (((W, 0), (R, 1), (R, IDLE), (W, 2)), ((R, 0), (R, 3), (W, 2)))
    assert loaded[0].txns == expected == load_published(tmp_path / "w.json")[0].txns
    assert parse(loaded[0].source)[0] == loaded[0].txns  # the format round-trips
    (tmp_path / "bad.py").write_text("WORKLOAD_1 = '{\"txn0\": \"x-1\"}'\n")
    with pytest.raises(WorkloadError, match="step 'x-1' is not r-KEY"):
        load_published(tmp_path / "bad.py")
    with pytest.raises(WorkloadError, match="cannot read"):
        TxnEvaluator(workloads=str(tmp_path / "missing.py"))


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
    assert result.reason.startswith("workload smoke#0 (dense): ") and reason in result.reason


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


PUBLISHED_STYLE = '''
import random
from txn_simulator import Workload
from workloads import WORKLOAD_1, WORKLOAD_2, WORKLOAD_3


def longest_first(workload):
    order = sorted(range(workload.num_txns), key=lambda j: (-workload.txns[j][0][3], j))
    return workload.get_opt_seq_cost(order), order


def get_random_costs():
    total, schedules = 0, []
    for source in (WORKLOAD_1, WORKLOAD_2, WORKLOAD_3):
        cost, order = longest_first(Workload(source))
        total += cost
        schedules.append(order)
    return total, schedules, 0.0
'''


def test_a_published_program_behind_the_shim_scores_as_the_same_schedule_written_natively(tmp_path):
    workloads = {f"WORKLOAD_{i + 1}": make_workload(5, "train", i).source for i in range(3)}
    (tmp_path / "workloads.py").write_text("".join(f"{name} = {source!r}\n" for name, source in workloads.items()))
    evaluator = TxnEvaluator(workloads=str(tmp_path / "workloads.py"))
    wrapper = f"from evaluators.shims.txn_simulator import published_scheduler\nSOURCE = {PUBLISHED_STYLE!r}\nschedule_all = published_scheduler(SOURCE)\n"
    shimmed = stage_result(evaluator, "train", wrapper)
    native = stage_result(evaluator, "train", returning("sorted(range(n), key=lambda j: (-workload.lengths[j], j))"))
    assert shimmed.valid and native.valid and shimmed.metrics["workloads"] == 3.0
    assert shimmed.metrics["makespan"] == native.metrics["makespan"] and shimmed.metrics["score"] == native.metrics["score"]
    strict = stage_result(TxnEvaluator(workloads=str(tmp_path / "workloads.py"), cost_model="strict_2pl"), "train", wrapper)
    assert strict.metrics["makespan"] > shimmed.metrics["makespan"]  # locks held to commit: longer
