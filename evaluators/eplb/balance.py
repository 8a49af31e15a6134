"""Balancedness of a placement, and the naive reference placement used for the score's zero.

balancedness(load, phy2log, logcnt) = mean over layers of (mean GPU load / max GPU load), where
each logical expert's load is split evenly over its replicas and a GPU's load is the sum over
its slots. A layer with no load at all counts as perfectly balanced (1.0).
"""

from __future__ import annotations

import numpy as np

from evaluators.eplb.layout import Layout


def gpu_loads(load: np.ndarray, phy2log: np.ndarray, logcnt: np.ndarray, layout: Layout) -> np.ndarray:
    """[layers, gpus] load per GPU; `phy2log` and `logcnt` must already be validated."""
    per_replica = load / np.maximum(logcnt, 1)
    slot_load = np.take_along_axis(per_replica, phy2log, axis=1)
    return slot_load.reshape(load.shape[0], layout.num_gpus, layout.slots_per_gpu).sum(axis=2)


def layer_balancedness(load: np.ndarray, phy2log: np.ndarray, logcnt: np.ndarray, layout: Layout) -> np.ndarray:
    gpu = gpu_loads(load, phy2log, logcnt, layout)
    peak = gpu.max(axis=1)
    return np.where(peak > 0, gpu.mean(axis=1) / np.where(peak > 0, peak, 1.0), 1.0)


def naive_placement(layout: Layout, layers: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load-oblivious: slot p holds expert p mod E (the first slots-E experts get a 2nd replica)."""
    row = np.arange(layout.num_slots) % layout.num_logical
    phy2log = np.tile(row, (layers, 1))
    logcnt = np.tile(np.bincount(row, minlength=layout.num_logical), (layers, 1))
    width = int(logcnt.max())
    log2phy = -np.ones((layers, layout.num_logical, width), dtype=np.int64)
    for slot, expert in enumerate(row.tolist()):
        column = int((row[:slot] == expert).sum())
        log2phy[:, expert, column] = slot
    return phy2log, log2phy, logcnt
