"""The conflict cost models of txn_scheduling, exactly.

A transaction j is a sequence of L_j steps; step i (from 0) runs during the time unit
[s_j + i, s_j + i + 1) where s_j is the transaction's start. A step is an operation on one key
(read or write) or idle (the published workloads' `*`). Transactions are placed in schedule
order; for each key the model keeps the latest end of any write lock (`w_end[k]`) and of any
read lock (`r_end[k]`) recorded so far. The next transaction starts at the earliest s >= 0
such that every one of its operations comes after the end of the last conflicting lock on its
key (read-read does not conflict):

    read  of k at step i:  s + i >= w_end[k]
    write of k at step i:  s + i >= max(w_end[k], r_end[k])

then its locks are recorded. Makespan = the latest end s_j + L_j.

`per_step` (the default, ADRS's transaction simulator): an operation locks its key only during
its own step, so a lock ends at s + i + 1. Implemented from reading that simulator: its lock
lists stay sorted by time, so "after the last conflicting lock" is after the latest write (a
read) or the latest lock of any kind (a write); its 1-based times are these shifted by one; a
transaction whose steps are all idle takes no time; a transaction's operations are checked
against the locks of earlier transactions only.

`strict_2pl`: a transaction holds a lock on every key it touches (a write lock if any of its
operations on the key writes, else a read lock) until it ends at s + L (strict two-phase
locking). Stricter: under it the published schedules do worse than sequential order.

Bounds: any order has makespan >= the longest transaction (the theoretical minimum the score
uses) and <= the sum of all lengths.
"""

from __future__ import annotations

from typing import Sequence

# An operation is (is_write, key) with a dense key index, key -1 for an idle step; a
# transaction is a tuple of them.
Txn = tuple[tuple[bool, int], ...]
IDLE = -1
MODELS = ("per_step", "strict_2pl")


def constraints(txn: Txn) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(read keys, their positions, write keys, their positions); one entry per operation."""
    rk, rp, wk, wp = [], [], [], []
    for pos, (write, key) in enumerate(txn):
        if key != IDLE:
            (wk if write else rk).append(key)
            (wp if write else rp).append(pos)
    return tuple(rk), tuple(rp), tuple(wk), tuple(wp)


def lock_sets(txn: Txn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(keys read-locked only, keys write-locked) by the transaction (strict 2PL)."""
    writes = {key for write, key in txn if write and key != IDLE}
    reads = {key for write, key in txn if not write and key != IDLE} - writes
    return tuple(sorted(reads)), tuple(sorted(writes))


def length(txn: Txn) -> int:
    """Time units the transaction takes: its steps, or none when every step is idle."""
    return len(txn) if any(key != IDLE for _, key in txn) else 0


class Compiled:
    """A workload's transactions pre-digested for fast placement."""

    def __init__(self, txns: Sequence[Txn], num_keys: int, model: str = "per_step"):
        if model not in MODELS:
            raise ValueError(f"cost model must be one of {MODELS}, not {model!r}")
        self.num_keys = num_keys
        self.model = model
        self.lengths = tuple(length(t) for t in txns)
        self.cons = tuple(constraints(t) for t in txns)
        self.locks = tuple(lock_sets(t) for t in txns)


def start_time(c: Compiled, j: int, w_end: list[int], r_end: list[int]) -> int:
    rk, rp, wk, wp = c.cons[j]
    s = 0
    for key, pos in zip(rk, rp):
        need = w_end[key] - pos
        if need > s:
            s = need
    for key, pos in zip(wk, wp):
        end = w_end[key]
        other = r_end[key]
        need = (end if end > other else other) - pos
        if need > s:
            s = need
    return s


def place(c: Compiled, j: int, w_end: list[int], r_end: list[int]) -> int:
    """Place transaction j after those already recorded in w_end / r_end; returns its end."""
    start = start_time(c, j, w_end, r_end)
    end = start + c.lengths[j]
    if c.model == "per_step":
        rk, rp, wk, wp = c.cons[j]
        for key, pos in zip(rk, rp):
            if r_end[key] < start + pos + 1:
                r_end[key] = start + pos + 1
        for key, pos in zip(wk, wp):
            if w_end[key] < start + pos + 1:
                w_end[key] = start + pos + 1
        return end
    reads, writes = c.locks[j]
    for key in reads:
        if r_end[key] < end:
            r_end[key] = end
    for key in writes:
        if w_end[key] < end:
            w_end[key] = end
    return end


def makespan(c: Compiled, order: Sequence[int]) -> int:
    """Makespan of a (possibly partial) order of transaction indices."""
    w_end = [0] * c.num_keys
    r_end = [0] * c.num_keys
    last = 0
    for j in order:
        end = place(c, j, w_end, r_end)
        if end > last:
            last = end
    return last


def start_times(c: Compiled, order: Sequence[int]) -> list[int]:
    """Start time of each transaction in `order` (for tests and feedback)."""
    w_end = [0] * c.num_keys
    r_end = [0] * c.num_keys
    starts = []
    for j in order:
        starts.append(start_time(c, j, w_end, r_end))
        place(c, j, w_end, r_end)
    return starts
