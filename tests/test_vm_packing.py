"""vm_packing: a hand-computed scenario (placements, machine-hours, stranding, failures, fluid
bound), capacity and tamper-proofing properties, determinism, one test per validation rule,
and best fit no worse than first fit on stranded resources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from boundary import source_of, stage_result

from evaluators.vm_packing.evaluator import PackingEvaluator
from evaluators.vm_packing.simulator import fluid_bound_hours, simulate
from evaluators.vm_packing.workload import SHAPES_BY_NAME, Pool, Workload, generate

PROBLEM = Path(__file__).parent.parent / "problems" / "vm_packing"


def first_fit(vm, machines):
    return -np.arange(machines.count, dtype=float)


def _hand_workload(with_failure: bool) -> Workload:
    rows = [(0.0, 5.0, 2, 8), (1.0, 3.0, 2, 8), (2.0, 20.0, 4, 4)]
    if with_failure:
        rows.append((2.5, 4.0, 1, 1))
    start, end, cpu, mem = (np.array(col, dtype=float) for col in zip(*rows))
    return Workload("hand#0", Pool(machines=2, cpu=4.0, mem=16.0), 10.0, start, end, cpu, mem)


def test_hand_computed_scenario():
    # v0, v1 fill machine 0 ([1,3)); v2 (4 vCPU, 4 GiB) takes machine 1 for the rest of the
    # window, stranding its 12 GiB (no CPU left); v3 finds no CPU anywhere at t=2.5 and fails.
    wl = _hand_workload(with_failure=True)
    res = simulate(first_fit, wl)
    assert res.used_hours == pytest.approx(2 * 1 + 3 * 2 + 5 * 1)
    assert res.stranded_mem_hours == pytest.approx(12 * 8)
    assert res.stranded_cpu_hours == pytest.approx(0.0)
    assert res.failed == 1 and res.arrivals == 4
    assert res.failed_footprint == pytest.approx(max(1 / 4, 1 / 16) * 1.5)
    assert res.peak_used == 2
    # fluid bound counts v3 as offered: ceil(max(cpu/4, mem/16)) = 1,1,2,3,2,2,1 on the pieces
    assert fluid_bound_hours(wl) == pytest.approx(1 + 1 + 0.5 * 2 + 0.5 * 3 + 2 + 2 + 5)
    assert fluid_bound_hours(_hand_workload(with_failure=False)) == pytest.approx(13.0)


def test_capacity_is_never_exceeded_and_arrays_are_copies():
    wl = generate(SHAPES_BY_NAME["large"], 3, "train", 0)
    rng = np.random.default_rng(0)
    seen = []

    def chaotic(vm, machines):
        seen.append((machines.cpu_free.min(), machines.mem_free.min(), machines.n_vms.min()))
        machines.cpu_free[:] = 1e9  # tampering with the view must not change the simulation
        return rng.normal(size=machines.count)

    res = simulate(chaotic, wl)
    mins = np.array(seen)
    assert (mins >= 0).all()
    assert res.failed > 0  # random placement fragments the pool: capacity was really enforced
    assert simulate(lambda vm, m: first_fit(vm, m), wl) == simulate(_tampering_first_fit, wl)


def _tampering_first_fit(vm, machines):
    machines.mem_free.fill(0.0)
    machines.n_vms[:] += 5  # the arrays are the candidate's to scribble on; the fields are read-only
    machines.cpu_free[::2] = -1.0
    return first_fit(vm, machines)


def test_workloads_are_deterministic_and_calibrated():
    shape = SHAPES_BY_NAME["standard"]
    a, b = generate(shape, 5, "train", 2), generate(shape, 5, "train", 2)
    assert np.array_equal(a.start, b.start) and np.array_equal(a.mem, b.mem)
    assert not np.array_equal(generate(shape, 5, "test", 2).cpu[:50], a.cpu[:50])
    assert set(np.unique(a.cpu)) <= {1, 2, 4, 8, 16, 32}
    assert set(np.unique(a.mem / a.cpu)) <= {1, 2, 4, 8}
    life = a.end - a.start
    assert np.median(life) == pytest.approx(1.0, rel=0.2) and life.max() > 24  # heavy-tailed lifetimes
    assert simulate(first_fit, a) == simulate(first_fit, b)


def _program(name: str) -> str:
    return (PROBLEM / "baselines" / f"{name}.py").read_text()


def _returning(expression: str, header: str = "") -> str:
    """Candidate code whose priority answers `expression` (of n, the number of machines)."""
    return f"import numpy as np\n{header}\n\n\ndef priority(vm, machines):\n    n = machines.count\n    return {expression}\n"


@pytest.fixture(scope="module")
def smoke() -> PackingEvaluator:
    return PackingEvaluator()


@pytest.fixture(scope="module")
def first_fit_smoke(smoke):
    return stage_result(smoke, "smoke", _program("first_fit"))


LIAR = """class Liar(list):  # claims one score per machine; only the items it holds cross
    def __len__(self):
        return 40"""


@pytest.mark.parametrize(
    ("answer", "header", "reason"),
    [
        ("np.full(n, np.nan)", "", "returned NaN for machine 0"),
        ("[0.0] * (n - 1) + [float('nan')]", "", "returned NaN for machine 39"),
        ("np.where(np.arange(n) == 3, np.inf, 0.0)", "", "infinite score for machine 3"),
        ("np.zeros(n - 1)", "", "returned shape (39,), expected (40,)"),
        ("np.zeros((n, 1))", "", "returned shape (40, 1), expected (40,)"),
        ("1.0", "", "returned shape (), expected (40,)"),
        ("Liar([0.0] * (n - 1))", LIAR, "returned shape (39,), expected (40,)"),
        ("[[0.0]] * (n - 1) + [0.0]", "", "returned list that is not an array (ValueError)"),
        ("['a'] * n", "", "not numbers"),
        ("np.ones(n, dtype=bool)", "", "returned bool values (ndarray), not numbers"),
        ("None", "", "returned object values (NoneType), not numbers"),
        ("[1 + 2j] * n", "", "returned a list holding a complex, which is not plain data"),
        ("Scores()", "class Scores:\n    pass", "returned a Scores, which is not plain data"),
    ],
    ids=["nan", "nan-in-list", "inf", "short", "2-d", "scalar", "lying-list-subclass", "ragged", "strings",
         "bools", "none", "complex", "custom-object"],
)  # fmt: skip
def test_malformed_scores_are_rejected(smoke, answer, header, reason):
    result = stage_result(smoke, "smoke", _returning(answer, header))
    first = smoke.workloads("smoke")[0][0].label
    assert result.valid is False and result.metrics["score"] == -100.0
    assert result.reason.startswith(f"{first}: VM 0 (t=") and reason in result.reason


def test_a_plain_list_of_numbers_is_accepted(smoke, first_fit_smoke):
    result = stage_result(smoke, "smoke", _returning("[-i for i in range(n)]"))
    assert result.valid and result == first_fit_smoke  # the same order as first fit's array


def tampering_first_fit(vm, machines):
    machines.cpu_free[:] = 1e9  # the candidate's own copies: nothing reaches the simulator
    machines.mem_free.fill(0.0)
    machines.n_vms[::2] = -1
    return -np.arange(machines.count, dtype=float)


def test_writing_to_the_machine_arrays_changes_nothing(smoke, first_fit_smoke):
    code = source_of(tampering_first_fit, header="import numpy as np") + "\npriority = tampering_first_fit\n"
    assert stage_result(smoke, "smoke", code) == first_fit_smoke


def test_a_module_without_priority_is_rejected(smoke):
    result = stage_result(smoke, "smoke", "class Priority:\n    pass\n")
    assert not result.valid and "no function priority" in result.reason


def test_best_fit_no_worse_than_first_fit_on_stranded_and_spreading_is_worst():
    evaluator = PackingEvaluator()
    ff = stage_result(evaluator, "train", _program("first_fit")).metrics
    bf = stage_result(evaluator, "train", _program("best_fit")).metrics
    worst = stage_result(evaluator, "train", _returning("machines.cpu_free / 64 + machines.mem_free / 256")).metrics
    assert bf["stranded"] <= ff["stranded"]
    assert bf["stranded_mem"] < ff["stranded_mem"]
    assert max(ff["failure_rate"], bf["failure_rate"]) < 0.001  # both pack well enough to (almost) never fail
    assert min(ff["score"], bf["score"]) > 50
    assert worst["failed"] > 0 and worst["score"] < 0  # spreading keeps all 40 machines busy and fails large VMs
    assert worst["machines_used"] > ff["machines_used"] > ff["machines_bound"]


def test_a_batch_of_answers_is_placed_exactly_as_one_by_one():
    from evaluators.answers import Invalid
    from evaluators.vm_packing.simulator import choose, choose_batch

    rng = np.random.default_rng(7)
    count = 6
    for _ in range(300):
        n = int(rng.integers(1, 9))
        cpu_free = rng.choice([0.0, 1.0, 2.0, 4.0, 8.0], size=(n, count))
        mem_free = rng.choice([0.0, 4.0, 8.0, 16.0], size=(n, count))
        cpus = rng.choice([1.0, 2.0, 4.0], size=n).tolist()
        mems = rng.choice([4.0, 8.0], size=n).tolist()
        kind = rng.integers(4)
        if kind == 0:  # ties everywhere, -0.0 and 0.0 among them
            answers = [rng.choice([0.0, -0.0, 1.0], size=count) for _ in range(n)]
        elif kind == 1:  # ints, some too large for a float to tell apart
            answers = [rng.integers(2**53, 2**53 + 3, size=count) for _ in range(n)]
        elif kind == 2:  # one answer breaks a rule: the batch is judged one by one
            answers = [rng.normal(size=count) for _ in range(n)]
            broken = [np.full(count, np.nan), np.ones(count + 1), [1.0] * count, Invalid("bad"), np.full(count, np.inf)]
            answers[int(rng.integers(n))] = broken[int(rng.integers(len(broken)))]
        else:
            answers = [rng.normal(size=count).astype(rng.choice([np.float32, np.float64])) for _ in range(n)]
        expected = [choose(a, count, c, m, cpu, mem) for a, c, m, cpu, mem in zip(answers, cpu_free, mem_free, cpus, mems)]
        assert choose_batch(answers, count, cpu_free, mem_free, cpus, mems) == expected
