"""RoutingEvaluator: the llm_routing problem's stages (smoke, train, test).

Each stage is a list of scenarios: for each scenario family in workload.SHAPES, `*_per_shape`
workloads generated from (seed, stage, index); train and test use disjoint seed streams, so the
test workloads are held out. Smoke uses one scaled-down workload per family.

The candidate module must define `class Router` with `__init__(self, cluster)` and
`route(self, request, state) -> int` (see evaluators.llm_routing.simulator). One Router per
scenario lives in the candidate's process; the scenarios of a stage advance in lockstep, one
batched `route` call per arrival (evaluators.lockstep), each seeing only its own present.
Validation, per request, before it enters the simulation: the answer is an int instance index
in range, on an instance whose KV capacity can hold the request; after the scenario: every
request was served. The first broken rule makes the stage invalid.
"""

from __future__ import annotations

import dataclasses

from evaluators import lockstep
from evaluators.candidate import Candidate
from evaluators.families import STAGES, FamilyStages
from evaluators.llm_routing.reference import RoundRobin
from evaluators.llm_routing.scoring import Anchors, anchors, summarise
from evaluators.llm_routing.simulator import SimResult, cluster_info, isolated_ttft, simulate, steps
from evaluators.llm_routing.workload import SHAPES, Workload, generate
from evaluators.protocol import StageResult
from sandboxes.wire import Records

INTERFACE = "Define `class Router` with __init__(self, cluster) and route(self, request, state) -> int."


class RoutingEvaluator:
    """All parameters keyword-only with defaults.

    seed: base seed of every workload. train_per_shape / test_per_shape / smoke_per_shape:
    workloads per scenario family. scale / smoke_scale: fraction of each family's request count.
    shapes: family names from evaluators.llm_routing.workload.SHAPES (default: all).
    """

    def __init__(
        self,
        *,
        seed: int = 20240501,
        train_per_shape: int = 10,
        test_per_shape: int = 10,
        smoke_per_shape: int = 1,
        scale: float = 1.0,
        smoke_scale: float = 0.2,
        shapes: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        self._families = FamilyStages.of(
            SHAPES, shapes, seed, counts=(smoke_per_shape, train_per_shape, test_per_shape), scales=(smoke_scale, scale, scale)
        )
        self.stages: tuple[str, ...] = STAGES
        self.seed = self._families.seed
        self._cache: dict[str, tuple[list[Workload], list[Anchors], list]] = {}

    def workloads(self, stage: str) -> tuple[list[Workload], list[Anchors], list]:
        """The stage's workloads, their round-robin / floor anchors and floors (built once)."""
        if stage not in self._cache:
            workloads = self._families.workloads(stage, generate)
            floors = [isolated_ttft(w) for w in workloads]
            refs = [anchors(simulate(RoundRobin(cluster_info(w)), w), f) for w, f in zip(workloads, floors)]
            self._cache[stage] = (workloads, refs, floors)
        return self._cache[stage]

    def run_stage(self, stage: str, candidate: Candidate) -> StageResult:
        workloads, refs, floors = self.workloads(stage)
        if not candidate.defines("Router"):
            return _invalid(len(workloads), "candidate defines no class Router")
        infos = [dataclasses.asdict(cluster_info(w)) for w in workloads]
        routers = candidate.create("Router", columns=[Records("ClusterInfo", {k: [i[k] for i in infos] for k in infos[0]})])

        def ask(indices: list[int], calls: list[tuple]) -> list:
            return candidate.start_invoke(routers[indices], "route", columns=lockstep.columns(calls, ("Request", "State")))

        results = lockstep.run([steps(w) for w in workloads], ask, stop=lambda r: r.invalid is not None)
        candidate.drop(routers)
        for workload, result in zip(workloads, results):
            if isinstance(result, SimResult) and result.invalid is not None:
                return _invalid(len(workloads), f"{workload.label}: {result.invalid}")
        for workload, result in zip(workloads, results):
            if result.unserved:
                return _invalid(len(workloads), f"{workload.label}: {result.unserved} requests never served")
        report = summarise(stage, workloads, results, refs, floors)
        return StageResult(metrics=report.metrics, feedback=report.feedback)


def _invalid(scenarios: int, reason: str) -> StageResult:
    return StageResult(
        metrics={"score": -100.0, "scenarios": float(scenarios)},
        valid=False,
        reason=reason,
        feedback=f"invalid: {reason}. {INTERFACE} Return an index i with request.kv_tokens <= state.kv_capacity[i].",
    )
