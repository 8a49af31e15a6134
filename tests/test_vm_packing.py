"""vm_packing: a hand-computed scenario (placements, machine-hours, stranding, failures, fluid
bound), capacity and tamper-proofing properties, determinism, one test per validation rule,
and best fit no worse than first fit on stranded resources."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import numpy as np
import pytest

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
    machines.n_vms += 5
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


def _module(priority) -> types.ModuleType:
    module = types.ModuleType("candidate")
    module.priority = priority
    return module


@pytest.fixture(scope="module")
def smoke() -> PackingEvaluator:
    return PackingEvaluator()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (lambda n: np.full(n, np.nan), "returned NaN for machine 0"),
        (lambda n: np.where(np.arange(n) == 3, np.inf, 0.0), "infinite score for machine 3"),
        (lambda n: np.zeros(n - 1), "expected (40,)"),
        (lambda n: np.zeros((n, 1)), "expected (40,)"),
        (lambda n: 1.0, "expected (40,)"),
        (lambda n: ["a"] * n, "not numbers"),
        (lambda n: np.ones(n, dtype=bool), "not numbers"),
        (lambda n: None, "not numbers"),
        (lambda n: [1 + 2j] * n, "not numbers"),
    ],
    ids=["nan", "inf", "short", "2-d", "scalar", "strings", "bools", "none", "complex"],
)
def test_malformed_scores_are_rejected(smoke, answer, reason):
    result = smoke.run_stage("smoke", _module(lambda vm, machines: answer(machines.count)))
    assert not result.valid and reason in result.reason


def test_a_plain_list_of_numbers_is_accepted(smoke):
    result = smoke.run_stage("smoke", _module(lambda vm, machines: [-i for i in range(machines.count)]))
    assert result.valid


def test_a_module_without_priority_is_rejected(smoke):
    result = smoke.run_stage("smoke", types.ModuleType("empty"))
    assert not result.valid and "no function priority" in result.reason


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"cand_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_best_fit_no_worse_than_first_fit_on_stranded_and_spreading_is_worst():
    evaluator = PackingEvaluator()
    ff = evaluator.run_stage("train", _load(PROBLEM / "baselines" / "first_fit.py")).metrics
    bf = evaluator.run_stage("train", _load(PROBLEM / "baselines" / "best_fit.py")).metrics
    worst = evaluator.run_stage("train", _module(lambda vm, m: m.cpu_free / 64 + m.mem_free / 256)).metrics
    assert bf["stranded"] <= ff["stranded"]
    assert bf["stranded_mem"] < ff["stranded_mem"]
    assert max(ff["failure_rate"], bf["failure_rate"]) < 0.001  # both pack well enough to (almost) never fail
    assert min(ff["score"], bf["score"]) > 50
    assert worst["failed"] > 0 and worst["score"] < 0  # spreading keeps all 40 machines busy and fails large VMs
    assert worst["machines_used"] > ff["machines_used"] > ff["machines_bound"]
