"""llm_routing: the simulator's closed-form cases and conservation, workload calibration and
determinism, one test per validation rule, and the baselines' published ordering."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from boundary import source_of, stage_result

from evaluators.llm_routing.evaluator import RoutingEvaluator
from evaluators.llm_routing.simulator import cluster_info, isolated_ttft, simulate
from evaluators.llm_routing.workload import SHAPES, SHAPES_BY_NAME, Cluster, Workload, generate

PROBLEM = Path(__file__).parent.parent / "problems" / "llm_routing"
A, B, C = 0.008, 0.0002, 0.0001


def _workload(arrival, prompt, output, max_tokens=None, capacity=(100_000,)) -> Workload:
    max_tokens = max_tokens or [o for o in output]
    return Workload("t#0", Cluster(tuple(capacity)), list(arrival), list(prompt), list(output), list(max_tokens), [False] * len(arrival))


class Fixed:
    def __init__(self, choice=0):
        self.choice = choice

    def route(self, request, state):
        return self.choice


def test_one_request_alone_matches_the_cost_model():
    res = simulate(Fixed(), _workload([0.5], [1000], [10]))
    ttft = A + B + C * 1000
    assert res.ttft[0] == pytest.approx(ttft)
    assert res.e2e[0] == pytest.approx(ttft + 9 * (A + B))
    assert res.ttft[0] == pytest.approx(isolated_ttft(_workload([0.5], [1000], [10]))[0])


def test_a_request_arriving_mid_iteration_joins_at_the_next_boundary_and_grows_the_batch():
    # r0 starts at t=0 alone; r1 arrives during r0's prefill and is admitted at its end.
    res = simulate(Fixed(), _workload([0.0, 0.01], [1000, 200], [50, 5]))
    end0 = A + B + C * 1000
    assert res.ttft[0] == pytest.approx(end0)
    assert res.ttft[1] == pytest.approx(end0 + A + 2 * B + C * 200 - 0.01)
    # r1's 4 decode iterations run with batch 2; r0 then decodes alone.
    r1_done = end0 + (A + 2 * B + C * 200) + 4 * (A + 2 * B)
    assert res.e2e[1] == pytest.approx(r1_done - 0.01)
    assert res.e2e[0] == pytest.approx(r1_done + (49 - 5) * (A + B))


def test_kv_reservation_makes_the_next_request_wait_for_the_first_to_finish():
    # capacity fits one reservation (prompt + max_tokens = 600) at a time
    wl = _workload([0.0, 0.0], [100, 100], [3, 3], max_tokens=[500, 500], capacity=(1000,))
    res = simulate(Fixed(), wl)
    first_done = A + B + C * 100 + 2 * (A + B)
    assert res.e2e[0] == pytest.approx(first_done)
    assert res.ttft[1] == pytest.approx(first_done + A + B + C * 100)


def test_every_request_is_served_once_with_ttft_between_the_floor_and_completion():
    wl = generate(SHAPES_BY_NAME["mixed6"], 7, "train", 0, scale=0.3)
    rr = _load(PROBLEM / "baselines" / "round_robin.py")
    res = simulate(rr.Router(cluster_info(wl)), wl)
    assert res.invalid is None and res.unserved == 0
    assert sum(res.routed) == wl.n
    assert np.all(res.ttft >= isolated_ttft(wl) - 1e-9)
    assert np.all(res.e2e >= res.ttft - 1e-12)


def test_workloads_are_deterministic_bursty_heavy_tailed_and_stages_differ():
    shape = SHAPES_BY_NAME["chat4"]
    a, b = generate(shape, 1, "train", 3), generate(shape, 1, "train", 3)
    assert a.arrival == b.arrival and a.prompt == b.prompt and a.output == b.output
    assert generate(shape, 1, "test", 3).prompt != a.prompt
    gaps = np.diff(a.arrival)
    assert gaps.std() / gaps.mean() > 2.0  # bursty: CV well above Poisson's 1
    prompt = np.asarray(a.prompt)
    assert np.percentile(prompt, 99) > 8 * np.median(prompt)  # heavy tail
    assert all(p + m <= max(shape.cluster.kv_capacity) for p, m in zip(a.prompt, a.max_tokens))
    assert all(o <= m for o, m in zip(a.output, a.max_tokens))


def _load(path: Path):
    """A program of ours, imported to drive the local simulator (never to score it)."""
    spec = importlib.util.spec_from_file_location(f"cand_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _program(name: str) -> str:
    return (PROBLEM / ("seed.py" if name == "seed" else f"baselines/{name}.py")).read_text()


@pytest.fixture(scope="module")
def small() -> RoutingEvaluator:
    return RoutingEvaluator(train_per_shape=1, smoke_per_shape=1)


def _returning(expression: str, header: str = "") -> str:
    """Candidate code whose Router answers `expression` for every request."""
    return (
        f"{header}\n\n\nclass Router:\n    def __init__(self, cluster):\n        pass\n\n"
        f"    def route(self, request, state):\n        return {expression}\n"
    )


@pytest.mark.parametrize(
    ("answer", "header", "reason"),
    [
        ("1.0", "", "returned 1.0 (float), not an int instance index"),
        ("True", "", "returned True (bool), not an int instance index"),
        ("None", "", "returned None (NoneType), not an int instance index"),
        ("4", "", "returned 4, not an instance index in 0..3"),
        ("-1", "", "returned -1, not an instance index in 0..3"),
        ("float('nan')", "", "returned nan (float), not an int instance index"),
        ("(0,)", "", "returned [0] (list), not an int instance index"),
        ("{'instance': 0}", "", "returned {'instance': 0} (dict), not an int instance index"),
        ("Instance()", "class Instance:\n    pass", "returned a Instance, which is not plain data"),
    ],
    ids=["float", "bool", "none", "too-high", "negative", "nan", "tuple", "dict", "custom-object"],
)
def test_answers_that_are_not_instance_indexes_are_rejected(small, answer, header, reason):
    result = stage_result(small, "smoke", _returning(answer, header))
    first = small.workloads("smoke")[0][0].label
    assert result.valid is False and result.metrics["score"] == -100.0
    assert result.reason.startswith(f"{first}: request 0 (t=") and reason in result.reason


@pytest.mark.parametrize(
    ("answer", "header"),
    [
        ("np.int64(0)", "import numpy as np"),
        ("Index(0)", "class Index(int):\n    def __index__(self):\n        return 3\n\n    def __int__(self):\n        return 3"),
    ],
    ids=["numpy-int", "int-subclass"],
)
def test_an_integer_index_arrives_as_the_plain_int_it_holds(small, answer, header):
    assert stage_result(small, "smoke", _returning(answer, header)) == stage_result(small, "smoke", _returning("0"))


class LastInstance:  # in mixed6 the last instances have 24k KV; long requests need the 96k ones
    def __init__(self, cluster):
        self.n = cluster.n_instances

    def route(self, request, state):
        return self.n - 1


def test_routing_a_request_to_an_instance_too_small_for_it_is_rejected():
    code = source_of(LastInstance) + "\nRouter = LastInstance\n"
    result = stage_result(RoutingEvaluator(shapes=["mixed6"], smoke_scale=1.0), "smoke", code)
    assert not result.valid and "could never be admitted" in result.reason


def test_a_module_without_router_is_rejected(small):
    result = stage_result(small, "smoke", "def route(request, state):\n    return 0\n")
    assert not result.valid and "no class Router" in result.reason


LOCKSTEP = """
LATEST = {}  # router -> the last request id it routed, shared by every scenario's router


class Router:
    def __init__(self, cluster):
        self.number, self.next_id, self.clock = len(LATEST), 0, 0.0
        LATEST[self.number] = -1

    def route(self, request, state):
        assert request.id == self.next_id, f"router {self.number} got request {request.id}, expected {self.next_id}"
        assert state.time == request.arrival >= self.clock, (state.time, request.arrival, self.clock)
        assert max(LATEST.values()) <= request.id, f"another scenario is ahead of request {request.id}: {LATEST}"
        LATEST[self.number], self.next_id, self.clock = request.id, request.id + 1, request.arrival
        return 0 if request.kv_tokens <= state.kv_capacity[0] else state.kv_capacity.index(max(state.kv_capacity))
"""


def test_scenarios_share_the_process_but_advance_in_lockstep():
    """Every Router lives in one process, so a module global is shared by the scenarios of a
    stage; what it can pool is their present, never one's future: each scenario's calls reach
    its own Router, in arrival order, and no scenario is ever past the request being routed."""
    evaluator = RoutingEvaluator(train_per_shape=2)
    result = stage_result(evaluator, "train", LOCKSTEP)  # fails the test if the candidate raised
    assert result.valid and result.metrics["scenarios"] == 2 * len(SHAPES)


def test_baselines_ordered_as_published():
    evaluator = RoutingEvaluator(train_per_shape=4)
    m = {name: stage_result(evaluator, "train", _program(name)).metrics
         for name in ("round_robin", "join_shortest_queue", "least_kv", "power_of_two")}
    assert m["round_robin"]["score"] == pytest.approx(0.0)  # the 0 anchor
    # bursts: join-shortest-queue has a better tail than round-robin
    assert m["join_shortest_queue"]["ttft_p99"] < 0.8 * m["round_robin"]["ttft_p99"]
    assert m["join_shortest_queue"]["ttft_tail"] < m["round_robin"]["ttft_tail"]
    # Llumnix-style KV freeness beats queue length; two choices sit between round-robin and JSQ
    assert m["least_kv"]["score"] > m["join_shortest_queue"]["score"] + 10
    assert 0 < m["power_of_two"]["score"] < m["least_kv"]["score"]
    assert m["least_kv"]["slo_attainment"] > m["round_robin"]["slo_attainment"]


def test_the_stage_is_deterministic_and_feedback_names_worst_scenarios(small):
    seed = _program("seed")
    a, b = stage_result(small, "train", seed), stage_result(small, "train", seed)
    assert a.metrics == b.metrics
    assert "worst scenarios:" in a.feedback and "chat4#" in a.feedback
    assert len(SHAPES) == a.metrics["scenarios"]
