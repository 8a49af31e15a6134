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


NO_ROOM = -1  # the choice when no machine has room for the VM


def choose(raw: object, count: int, cpu_free: np.ndarray, mem_free: np.ndarray, cpu: float, mem: float) -> int | str:
    """Where an answer puts the VM: the highest-scoring machine with room (ties: the lowest
    index), NO_ROOM, or the rule the answer breaks (a str)."""
    scores, problem = check_scores(raw, count)
    if problem is not None:
        return problem
    fits = np.flatnonzero((cpu_free >= cpu) & (mem_free >= mem))
    if len(fits) == 0:
        return NO_ROOM
    return int(fits[np.argmax(scores[fits])])


def choose_batch(answers: list, count: int, cpu_free: np.ndarray, mem_free: np.ndarray, cpus: list[float], mems: list[float]) -> list:
    """`choose` for the answers of a batch of scenarios with pools of `count` machines; row i of
    `cpu_free` and `mem_free` is scenario i's. Answers that are all finite numeric arrays of the
    right shape (the common case) are judged in one pass, with exactly `choose`'s rules: a
    machine without room never wins, since its score is replaced by -inf and every score is
    finite; `argmax` takes the first of equal maxima."""
    if count > 0 and all(a.__class__ is np.ndarray and a.shape == (count,) and a.dtype.kind in "iuf" for a in answers):
        scores = np.array(answers, dtype=float)
        if np.isfinite(scores).all():
            fit = (cpu_free >= np.array(cpus)[:, None]) & (mem_free >= np.array(mems)[:, None])
            best = np.where(fit, scores, -np.inf).argmax(axis=1)
            return np.where(fit.any(axis=1), best, NO_ROOM).tolist()
    return [choose(a, count, c, m, cpu, mem) for a, c, m, cpu, mem in zip(answers, cpu_free, mem_free, cpus, mems)]


def footprint(cpu: float, mem: float, pool) -> float:
    """The fraction of one machine a VM needs at least (its bigger dimension)."""
    return max(cpu / pool.cpu, mem / pool.mem)


def simulate(priority, workload: Workload) -> SimResult:
    """Run one scenario with a trusted, in-process `priority(vm, machines)`."""
    pool = workload.pool
    state = PoolState.empty(pool.machines)
    run = steps(workload, state)
    try:
        r, t, cpu, mem = next(run)
        while True:
            machines = Machines(pool.machines, pool.cpu, pool.mem, state.cpu_free.copy(), state.mem_free.copy(), state.n_vms.copy(), t)
            answer = priority(VM(r, t, cpu, mem), machines)
            r, t, cpu, mem = run.send(choose(answer, pool.machines, state.cpu_free, state.mem_free, cpu, mem))
    except StopIteration as done:
        return done.value


@dataclass(frozen=True)
class PoolState:
    """The live per-machine arrays of one scenario (rows of the evaluator's shared blocks, so a
    batch of scenarios is copied out in one indexing operation)."""

    cpu_free: np.ndarray  # float64
    mem_free: np.ndarray  # float64
    n_vms: np.ndarray  # int64

    @classmethod
    def empty(cls, count: int) -> "PoolState":
        return cls(np.empty(count), np.empty(count), np.empty(count, dtype=np.int64))


def steps(workload: Workload, state: PoolState):  # noqa: C901 - one tight event loop
    """The simulation as a generator: yields (id, time, cpu, mem) of each arrival, receives the
    `choose` of the answer (the machine, NO_ROOM, or the rule the answer broke). The pool at that arrival is `state` (live arrays, which this generator resets at its
    start and updates after each answer: whoever shows them to a priority function copies them
    first); its count and capacities are the workload's pool's."""
    pool, horizon = workload.pool, workload.horizon
    count = pool.machines
    cpu_free, mem_free, n_vms = state.cpu_free, state.mem_free, state.n_vms
    cpu_free[:] = pool.cpu
    mem_free[:] = pool.mem
    n_vms[:] = 0
    cpu_left, mem_left, hosted = cpu_free.tolist(), mem_free.tolist(), n_vms.tolist()  # the same, as Python numbers (faster one by one)
    strand_cpu = [0.0] * count
    strand_mem = [0.0] * count
    used, s_cpu, s_mem = 0, 0.0, 0.0  # machines used, stranded CPU and memory now
    last, acc_used, acc_s_cpu, acc_s_mem = 0.0, 0.0, 0.0, 0.0  # integrals up to `last`
    departures: list[tuple[float, int, int]] = []
    starts, ends = workload.start.tolist(), workload.end.tolist()
    cpus, mems = workload.cpu.tolist(), workload.mem.tolist()
    failed, failed_fp, arrivals, peak = 0, 0.0, 0, 0
    heappop, heappush, n = heapq.heappop, heapq.heappush, workload.n

    # advance(t) and refresh(j), written out inline below (this loop runs once per VM):
    #   advance: t clipped to [0, horizon]; dt = t - last; if dt > 0, each integral += value * dt
    #   refresh: machine j's stranded CPU / memory from its free capacity, totals updated
    for r in range(n + 1):
        t = starts[r] if r < n else horizon
        while departures and departures[0][0] <= t:  # departures at or before t come first
            te, k, j = heappop(departures)
            te = min(max(te, 0.0), horizon)
            dt = te - last
            if dt > 0.0:
                acc_used += used * dt
                acc_s_cpu += s_cpu * dt
                acc_s_mem += s_mem * dt
                last = te
            cpu_free[j] = cpu_left[j] = cf = cpu_left[j] + cpus[k]
            mem_free[j] = mem_left[j] = mf = mem_left[j] + mems[k]
            n_vms[j] = hosted[j] = hosted[j] - 1
            if hosted[j] == 0:
                used -= 1
            sc = cf if mf < STRAND_MEM else 0.0
            sm = mf if cf < STRAND_CPU else 0.0
            s_cpu += sc - strand_cpu[j]
            s_mem += sm - strand_mem[j]
            strand_cpu[j], strand_mem[j] = sc, sm
        if r == n or t > horizon:
            break
        ta = min(max(t, 0.0), horizon)
        dt = ta - last
        if dt > 0.0:
            acc_used += used * dt
            acc_s_cpu += s_cpu * dt
            acc_s_mem += s_mem * dt
            last = ta
        in_window = t >= 0.0
        arrivals += in_window
        cpu, mem = cpus[r], mems[r]
        j = yield r, t, cpu, mem
        if j.__class__ is str:
            return SimResult(0.0, 0.0, 0.0, failed, failed_fp, arrivals, peak, f"VM {r} (t={t:.2f}h, {cpu:g} vCPU, {mem:g} GiB): {j}")
        if j == NO_ROOM:
            if in_window:
                failed += 1
                failed_fp += footprint(cpu, mem, pool) * (min(ends[r], horizon) - t)
            continue
        cpu_free[j] = cpu_left[j] = cf = cpu_left[j] - cpu
        mem_free[j] = mem_left[j] = mf = mem_left[j] - mem
        n_vms[j] = hosted[j] = hosted[j] + 1
        if hosted[j] == 1:
            used += 1
            peak = max(peak, used)
        sc = cf if mf < STRAND_MEM else 0.0
        sm = mf if cf < STRAND_CPU else 0.0
        s_cpu += sc - strand_cpu[j]
        s_mem += sm - strand_mem[j]
        strand_cpu[j], strand_mem[j] = sc, sm
        if ends[r] < horizon:
            heappush(departures, (ends[r], r, j))
    dt = horizon - last  # advance(horizon)
    if dt > 0.0:
        acc_used += used * dt
        acc_s_cpu += s_cpu * dt
        acc_s_mem += s_mem * dt
    return SimResult(acc_used, acc_s_cpu, acc_s_mem, failed, failed_fp, arrivals, peak)


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

