"""Online VM placement on a fixed pool of identical machines, driven by a priority function.

Exact model (hours, vCPUs, GiB):

* VMs arrive in order of `start` and leave at `end`; departures at or before an arrival's time
  are processed first. The pool has `machines` machines of (`cpu`, `mem`) each, empty at the
  start of the warm-up.
* For each arrival the candidate's `priority(vm, machines)` returns one score per machine. The
  simulator places the VM on the highest-scoring machine among those with room (free CPU >= vm
  CPU and free memory >= vm memory; ties go to the lowest index). If no machine has room the
  placement fails: the VM is dropped (it never runs).
* A machine is *used* while it hosts at least one VM. Its free CPU is *stranded* while its free
  memory is below 4 GiB (one vCPU at the standard 4 GiB/vCPU ratio), and its free memory is
  stranded while its free CPU is below 1 vCPU: capacity that cannot be sold because the other
  dimension is full.
* Metrics integrate over the window [0, horizon] only; VMs still running at the horizon are
  simply cut off there.

The candidate sees copies of the machine arrays, so writing to them changes nothing.

`steps` is the simulation as a generator: it yields the (vm, machines) of each call as plain
field dicts and receives the answer, so the evaluator can run all scenarios in lockstep with one
batched call to the candidate per arrival (evaluators.lockstep). `simulate` drives it with a
trusted, in-process priority function (tests, research scripts).
"""

from __future__ import annotations

import heapq
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from evaluators.answers import Invalid
from evaluators.vm_packing.workload import Workload

STRAND_MEM = 4.0  # GiB: free CPU is stranded below this much free memory
STRAND_CPU = 1.0  # vCPU: free memory is stranded below this much free CPU


VM = namedtuple("VM", ("id", "time", "cpu", "mem"))  # the arriving VM
# The pool at the arrival: arrays of length `count` (fresh copies for every call).
Machines = namedtuple("Machines", ("count", "cpu_capacity", "mem_capacity", "cpu_free", "mem_free", "n_vms", "time"))


@dataclass(frozen=True)
class SimResult:
    used_hours: float  # integral of used machines over the window (machine-hours)
    stranded_cpu_hours: float  # integral of stranded vCPUs
    stranded_mem_hours: float  # integral of stranded GiB
    failed: int  # failed placements of VMs arriving in the window
    failed_footprint: float  # machine-hours those VMs would have needed at least
    arrivals: int  # VMs arriving in the window
    peak_used: int
    invalid: str | None = None


def check_scores(raw: object, count: int) -> tuple[np.ndarray | None, str | None]:
    """(scores, None) for a valid answer, else (None, the rule it breaks)."""
    if isinstance(raw, Invalid):
        return None, raw.reason
    if raw.__class__ is np.ndarray and raw.shape == (count,) and raw.dtype.kind in "iuf":
        scores = raw.astype(float, copy=False)
        if np.isfinite(scores).all():
            return scores, None  # the common case, checked in one pass; the rest says what is wrong
    try:
        scores = np.asarray(raw)
    except Exception as exc:  # noqa: BLE001 - any object the candidate returns
        return None, f"returned {type(raw).__name__} that is not an array ({type(exc).__name__})"
    if scores.dtype.kind not in "iuf":
        return None, f"returned {scores.dtype} values ({type(raw).__name__}), not numbers (int or float)"
    if scores.shape != (count,):
        return None, f"returned shape {scores.shape}, expected ({count},): one score per machine"
    scores = scores.astype(float, copy=False)
    if np.isnan(scores).any():
        return None, f"returned NaN for machine {int(np.flatnonzero(np.isnan(scores))[0])}"
    if np.isinf(scores).any():
        return None, f"returned an infinite score for machine {int(np.flatnonzero(np.isinf(scores))[0])}"
    return scores, None


def footprint(cpu: float, mem: float, pool) -> float:
    """The fraction of one machine a VM needs at least (its bigger dimension)."""
    return max(cpu / pool.cpu, mem / pool.mem)


def simulate(priority, workload: Workload) -> SimResult:
    """Run one scenario with a trusted, in-process `priority(vm, machines)`."""
    run = steps(workload)
    try:
        vm, machines = next(run)
        while True:
            fresh = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in machines.items()}
            vm, machines = run.send(priority(VM(**vm), Machines(**fresh)))
    except StopIteration as done:
        return done.value


def steps(workload: Workload):  # noqa: C901 - one tight event loop
    """The simulation as a generator: yields (vm, machines) field dicts, receives the scores."""
    pool, horizon = workload.pool, workload.horizon
    count = pool.machines
    cpu_free = np.full(count, pool.cpu)
    mem_free = np.full(count, pool.mem)
    n_vms = np.zeros(count, dtype=np.int64)
    strand_cpu = [0.0] * count
    strand_mem = [0.0] * count
    state = {"used": 0, "s_cpu": 0.0, "s_mem": 0.0}
    acc = {"last": 0.0, "used": 0.0, "s_cpu": 0.0, "s_mem": 0.0}
    departures: list[tuple[float, int, int]] = []
    starts, ends = workload.start.tolist(), workload.end.tolist()
    cpus, mems = workload.cpu.tolist(), workload.mem.tolist()

    def advance(t: float) -> None:
        t = min(max(t, 0.0), horizon)
        dt = t - acc["last"]
        if dt > 0.0:
            acc["used"] += state["used"] * dt
            acc["s_cpu"] += state["s_cpu"] * dt
            acc["s_mem"] += state["s_mem"] * dt
            acc["last"] = t

    def refresh(j: int) -> None:
        cf, mf = float(cpu_free[j]), float(mem_free[j])
        sc = cf if mf < STRAND_MEM else 0.0
        sm = mf if cf < STRAND_CPU else 0.0
        state["s_cpu"] += sc - strand_cpu[j]
        state["s_mem"] += sm - strand_mem[j]
        strand_cpu[j], strand_mem[j] = sc, sm

    failed, failed_fp, arrivals, peak = 0, 0.0, 0, 0

    def depart_until(t: float) -> None:
        while departures and departures[0][0] <= t:
            te, k, j = heapq.heappop(departures)
            advance(te)
            cpu_free[j] += cpus[k]
            mem_free[j] += mems[k]
            n_vms[j] -= 1
            if n_vms[j] == 0:
                state["used"] -= 1
            refresh(j)

    for r in range(workload.n):
        t = starts[r]
        depart_until(t)
        if t > horizon:
            break
        advance(t)
        in_window = t >= 0.0
        arrivals += in_window
        vm = {"id": r, "time": t, "cpu": cpus[r], "mem": mems[r]}
        machines = {
            "count": count, "cpu_capacity": pool.cpu, "mem_capacity": pool.mem, "cpu_free": cpu_free,
            "mem_free": mem_free, "n_vms": n_vms, "time": t,
        }  # fmt: skip; the live arrays: whoever receives them copies (the wire does, and `simulate`)
        scores, problem = check_scores((yield vm, machines), count)
        if problem is not None:
            return SimResult(0.0, 0.0, 0.0, failed, failed_fp, arrivals, peak, f"VM {r} (t={t:.2f}h, {cpus[r]:g} vCPU, {mems[r]:g} GiB): {problem}")
        fits = np.flatnonzero((cpu_free >= cpus[r]) & (mem_free >= mems[r]))
        if len(fits) == 0:
            if in_window:
                failed += 1
                failed_fp += footprint(cpus[r], mems[r], pool) * (min(ends[r], horizon) - t)
            continue
        j = int(fits[np.argmax(scores[fits])])
        cpu_free[j] -= cpus[r]
        mem_free[j] -= mems[r]
        n_vms[j] += 1
        if n_vms[j] == 1:
            state["used"] += 1
            peak = max(peak, state["used"])
        refresh(j)
        if ends[r] < horizon:
            heapq.heappush(departures, (ends[r], r, j))
    depart_until(horizon)
    advance(horizon)
    return SimResult(acc["used"], acc["s_cpu"], acc["s_mem"], failed, failed_fp, arrivals, peak)


def fluid_bound_hours(workload: Workload) -> float:
    """Integral over the window of ceil(max(offered CPU / machine CPU, offered memory / machine
    memory)): machine-hours no placement can go below, counting every VM as placed."""
    pool, horizon = workload.pool, workload.horizon
    live = workload.end > 0.0
    start = np.clip(workload.start[live], 0.0, horizon)
    end = np.clip(workload.end[live], 0.0, horizon)
    times = np.concatenate([start, end])
    dcpu = np.concatenate([workload.cpu[live], -workload.cpu[live]])
    dmem = np.concatenate([workload.mem[live], -workload.mem[live]])
    order = np.argsort(times, kind="stable")
    times, cpu, mem = times[order], np.cumsum(dcpu[order]), np.cumsum(dmem[order])
    need = np.ceil(np.maximum(cpu / pool.cpu, mem / pool.mem) - 1e-9)
    widths = np.diff(np.append(times, horizon))
    return float(np.sum(need * widths))


def naive_hours(workload: Workload) -> float:
    """Every machine of the pool busy for the whole window (what spreading VMs does)."""
    return float(workload.pool.machines * workload.horizon)


def window_share(workload: Workload) -> float:
    """Mean offered CPU over the window as a fraction of the pool (a calibration check)."""
    s = np.clip(workload.start, 0, workload.horizon)
    e = np.clip(workload.end, 0, workload.horizon)
    return float(np.sum(workload.cpu * (e - s)) / (workload.pool.machines * workload.pool.cpu * workload.horizon))

