"""Synthetic transaction workloads from fixed seeds (the ADRS traces are not reachable).

A workload is 100 transactions of 16 operations on average (12..20, uniform), each operation a
read or a write (`WRITE_SHARE` writes) of a key drawn from a Zipf-like popularity over
`NUM_KEYS` keys (p(rank r) proportional to 1 / r^ZIPF_S), so a few hot keys are touched by most
transactions: conflicts are common but not universal, and order matters. Each workload permutes
key ids at random so that hot keys are not simply the small integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluators.txn.cost import Txn

NUM_TXNS = 100
MIN_OPS, MAX_OPS = 12, 20
NUM_KEYS = 1000
ZIPF_S = 1.0
WRITE_SHARE = 0.3
STAGE_CODES = {"smoke": 0, "train": 1, "test": 2}


@dataclass(frozen=True)
class TxnWorkload:
    """One workload: `txns[j]` is a tuple of (is_write, key) with keys densely numbered."""

    label: str
    seed: int
    txns: tuple[Txn, ...]
    num_keys: int


def make_workload(seed: int, stage: str, index: int, *, num_txns: int = NUM_TXNS) -> TxnWorkload:
    rng = np.random.default_rng(np.random.SeedSequence([seed, STAGE_CODES[stage], index]))
    weights = 1.0 / np.arange(1, NUM_KEYS + 1) ** ZIPF_S
    weights /= weights.sum()
    key_ids = rng.permutation(NUM_KEYS)
    lengths = rng.integers(MIN_OPS, MAX_OPS + 1, size=num_txns)
    total = int(lengths.sum())
    keys = key_ids[rng.choice(NUM_KEYS, size=total, p=weights)]
    writes = rng.random(total) < WRITE_SHARE
    dense = {k: i for i, k in enumerate(dict.fromkeys(keys.tolist()))}
    ops = [(bool(w), dense[k]) for w, k in zip(writes.tolist(), keys.tolist())]
    txns, at = [], 0
    for n in lengths.tolist():
        txns.append(tuple(ops[at : at + n]))
        at += n
    workload_seed = int(rng.integers(0, 2**31 - 1))
    return TxnWorkload(f"{stage}#{index}", workload_seed, tuple(txns), len(dense))


def make_workloads(seed: int, stage: str, count: int) -> list[TxnWorkload]:
    return [make_workload(seed, stage, i) for i in range(count)]
