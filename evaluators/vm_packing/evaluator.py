"""PackingEvaluator: the vm_packing problem's stages (smoke, train, test).

Each stage is `*_per_shape` workloads per scenario family (workload.SHAPES), generated from
(seed, stage, index): train and test use disjoint seed streams, so test is held out. Smoke
runs one short workload per family.

The candidate module must define `priority(vm, machines)` returning one number per machine
(see evaluators.vm_packing.simulator). The scenarios of a stage advance in lockstep, one batched
`priority` call per arrival (evaluators.lockstep); module-level state in the candidate is shared
by the scenarios of a stage (each sees only its own present), so `priority` should depend on its
arguments. Every answer is validated before it is used: an array (or sequence) of ints or
floats, of shape (machines,), with no NaN and no infinity. The simulator itself enforces
capacity: a VM only ever lands on a machine with room, or fails when none has room.
"""

from __future__ import annotations

import numpy as np

from evaluators import lockstep
from evaluators.candidate import Candidate
from evaluators.families import STAGES, FamilyStages
from evaluators.protocol import StageResult
from evaluators.vm_packing.scoring import Anchors, summarise
from evaluators.vm_packing.simulator import PoolState, choose, choose_batch, fluid_bound_hours, naive_hours, steps
from evaluators.vm_packing.workload import SHAPES, Workload, generate
from sandboxes.wire import Records

INTERFACE = "Define `priority(vm, machines)` returning a float array with one finite score per machine."


class PackingEvaluator:
    """All parameters keyword-only with defaults.

    seed: base seed of every workload. train_per_shape / test_per_shape / smoke_per_shape:
    workloads per family. scale / smoke_scale: fraction of each family's window (and warm-up).
    shapes: family names from evaluators.vm_packing.workload.SHAPES (default: all).
    """

    def __init__(
        self,
        *,
        seed: int = 20250514,
        train_per_shape: int = 5,
        test_per_shape: int = 5,
        smoke_per_shape: int = 1,
        scale: float = 1.0,
        smoke_scale: float = 0.1,
        shapes: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        self._families = FamilyStages.of(
            SHAPES, shapes, seed, counts=(smoke_per_shape, train_per_shape, test_per_shape), scales=(smoke_scale, scale, scale)
        )
        self.stages: tuple[str, ...] = STAGES
        self.seed = self._families.seed
        self._cache: dict[str, tuple[list[Workload], list[Anchors]]] = {}

    def workloads(self, stage: str) -> tuple[list[Workload], list[Anchors]]:
        if stage not in self._cache:
            workloads = self._families.workloads(stage, generate)
            refs = [Anchors(fluid_bound_hours(w), naive_hours(w)) for w in workloads]
            self._cache[stage] = (workloads, refs)
        return self._cache[stage]

    def run_stage(self, stage: str, candidate: Candidate) -> StageResult:
        workloads, refs = self.workloads(stage)
        if not candidate.defines("priority"):
            return _invalid(len(workloads), "candidate defines no function priority")

        pools = _Pools(workloads)

        def ask(indices: list[int], calls: list[tuple]) -> list:
            ids, times, cpus, mems = (list(column) for column in zip(*calls))
            vms = Records("VM", {"id": ids, "time": times, "cpu": cpus, "mem": mems})
            machines = pools.machines(indices, times)
            answers = candidate.map("priority", columns=[vms, machines])
            return _choices(answers, pools, indices, machines.fields, cpus, mems)

        results = lockstep.run([steps(w, pools.states[i]) for i, w in enumerate(workloads)], ask, stop=lambda r: r.invalid is not None)
        for workload, result in zip(workloads, results):
            if result is not None and result.invalid is not None:
                return _invalid(len(workloads), f"{workload.label}: {result.invalid}")
        report = summarise(stage, workloads, results, refs)
        return StageResult(metrics=report.metrics, feedback=report.feedback)


class _Pools:
    """The live machine arrays of every scenario, as rows of one block per array when all pools
    have the same size (the shipped families do), so a batch's machines are one copy per array."""

    def __init__(self, workloads: list[Workload]) -> None:
        self.pools = [w.pool for w in workloads]
        counts = {p.machines for p in self.pools}
        if len(counts) == 1:
            shape = (len(workloads), counts.pop())
            self.blocks = (np.empty(shape), np.empty(shape), np.empty(shape, dtype=np.int64))
            self.states = [PoolState(*(block[i] for block in self.blocks)) for i in range(len(workloads))]
        else:
            self.blocks = None
            self.states = [PoolState.empty(p.machines) for p in self.pools]

    def machines(self, indices: list[int], times: list[float]) -> Records:
        """The pools of these scenarios at their current arrival: copies, never the live arrays."""
        pools = [self.pools[i] for i in indices]
        if self.blocks is not None:
            cpu_free, mem_free, n_vms = (block[indices] for block in self.blocks)
        else:
            cpu_free, mem_free, n_vms = ([getattr(self.states[i], name).copy() for i in indices] for name in ("cpu_free", "mem_free", "n_vms"))
        fields = {
            "count": [p.machines for p in pools], "cpu_capacity": [p.cpu for p in pools], "mem_capacity": [p.mem for p in pools],
            "cpu_free": cpu_free, "mem_free": mem_free, "n_vms": n_vms, "time": times,
        }  # fmt: skip
        return Records("Machines", fields)


def _choices(answers: list, pools: _Pools, indices: list[int], fields: dict, cpus: list[float], mems: list[float]) -> list:
    """The answers of a batch as the machine each VM goes to (simulator.choose), judged here
    against the pools the candidate was shown (the live ones: a scenario waits for its answer)."""
    if pools.blocks is not None:
        count = pools.pools[indices[0]].machines
        return choose_batch(answers, count, fields["cpu_free"], fields["mem_free"], cpus, mems)
    rows = zip(answers, fields["count"], fields["cpu_free"], fields["mem_free"], cpus, mems)
    return [choose(answer, count, c, m, cpu, mem) for answer, count, c, m, cpu, mem in rows]


def _invalid(scenarios: int, reason: str) -> StageResult:
    return StageResult(
        metrics={"score": -100.0, "scenarios": float(scenarios)},
        valid=False,
        reason=reason,
        feedback=f"invalid: {reason}. {INTERFACE}",
    )
