"""The conflict cost model of txn_scheduling, exactly (PROBLEMS.md section 4).

A transaction j is a sequence of L_j operations; operation i (from 0) runs during the time unit
[s_j + i, s_j + i + 1) where s_j is the transaction's start. A transaction takes a lock on every
key it touches (a write lock if any of its operations on that key writes, else a read lock) and
holds it until it ends at s_j + L_j (strict two-phase locking: locks are released at commit).

Transactions are placed in schedule order. For each key k the model keeps the latest end of any
write lock (`w_end[k]`) and of any read lock (`r_end[k]`) held by the transactions placed so far.
The next transaction starts at the earliest s >= 0 such that every one of its operations comes
after the end of the last conflicting lock on its key:

    read  of k at position i:  s + i >= w_end[k]                (read-read does not conflict)
    write of k at position i:  s + i >= max(w_end[k], r_end[k]) (read-write, write-write do)

then its locks are recorded (w_end[k] or r_end[k] raised to s + L). Makespan = the latest end.
A transaction that conflicts with nothing starts at 0, whatever its place in the order.

Bounds: any order has makespan >= the longest transaction (the theoretical minimum the score
uses) and <= the sum of all lengths.
"""

from __future__ import annotations

from typing import Sequence

# An operation is (is_write, key) with a dense key index; a transaction is a tuple of operations.
Txn = tuple[tuple[bool, int], ...]


def constraints(txn: Txn) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(read keys, their positions, write keys, their positions); one entry per operation."""
    rk, rp, wk, wp = [], [], [], []
    for pos, (write, key) in enumerate(txn):
        (wk if write else rk).append(key)
        (wp if write else rp).append(pos)
    return tuple(rk), tuple(rp), tuple(wk), tuple(wp)


def lock_sets(txn: Txn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(keys read-locked only, keys write-locked) by the transaction."""
    writes = {key for write, key in txn if write}
    reads = {key for write, key in txn if not write} - writes
    return tuple(sorted(reads)), tuple(sorted(writes))


class Compiled:
    """A workload's transactions pre-digested for fast placement (trusted, evaluator side)."""

    def __init__(self, txns: Sequence[Txn], num_keys: int):
        self.num_keys = num_keys
        self.lengths = tuple(len(t) for t in txns)
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
    end = start_time(c, j, w_end, r_end) + c.lengths[j]
    reads, writes = c.locks[j]
    for key in reads:
        if r_end[key] < end:
            r_end[key] = end
    for key in writes:
        if w_end[key] < end:
            w_end[key] = end
    return end


def makespan(c: Compiled, order: Sequence[int]) -> int:
    """Makespan of a (possibly partial) order of distinct transaction indices."""
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
