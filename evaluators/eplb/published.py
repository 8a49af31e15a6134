"""The ADRS leaderboard's EPLB scoring, implemented from reading its evaluator.

Workload: the published `expert-load.json` ({"load_history": [{"logical_expert_load": [[...
per expert] per layer]}, ...]}, the leaderboard downloads it from the dataset it names); every
100 consecutive entries are summed into one window, so window i is the load of steps
100 i .. 100 i + 99. The placement computed on window i is scored on window i + 1.
Rules (the only ones it has): phy2log has 288 columns; logcnt sums to 288 in every layer and is
never negative; an expert that is loaded in the NEXT window has a replica. The load of expert e
is split evenly over the slots log2phy[layer, e, :logcnt] (an unloaded expert or one with no
replica adds nothing); a GPU's load is the sum of its 9 slots. Per call,

    balancedness = sum over layers of mean GPU load / sum over layers of max GPU load

(a ratio of sums, 0 when nothing is loaded), and over the calls B = the mean balancedness,
t = the mean seconds per call; score = 90 B + 5 min(0.002 / t, 2) - (min(20 t, 20) if t > 10 ms).
The original accumulates in float32 (torch); this does float64, so B differs in the 7th digit.
What the original would crash on (slots outside 0..287, ragged arrays) is rejected here, and
one rule is added: log2phy must agree with phy2log (each slot serves the one expert phy2log
names, listed once). The original scores log2phy alone, so a placement no GPU could hold (many
experts on one slot, any number of replicas per GPU) scored about 27 points above DeepSeek's
(found by a hostile review); the published programs all agree, so their scores are unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from evaluators.eplb.layout import Layout
from evaluators.eplb.validation import InvalidPlacement, _int_array

WINDOW_STEPS = 100


class WorkloadError(ValueError):
    """The expert-load file the user named is missing or not in the published format."""


def load_windows(path: str | Path) -> np.ndarray:
    """[windows, layers, experts] summed loads (int64 when the file holds integers)."""
    path = Path(path).expanduser()
    try:
        history = json.loads(path.read_text(encoding="utf-8"))["load_history"]
        steps = np.array([entry["logical_expert_load"] for entry in history])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise WorkloadError(f"workload: {path} is not a published expert-load.json ({type(exc).__name__}: {exc})") from None
    if steps.ndim != 3 or steps.dtype.kind not in "iuf":
        raise WorkloadError(f"workload: {path} must hold load_history entries of [layers][experts] numbers")
    windows = np.stack([steps[i : i + WINDOW_STEPS].sum(axis=0) for i in range(0, len(steps), WINDOW_STEPS)])
    if len(windows) < 2:
        raise WorkloadError(f"workload: {path} has {len(steps)} steps: need more than {WINDOW_STEPS} (two windows)")
    return windows


def check_published(result: object, next_load: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """(log2phy, logcnt) as int64 arrays, or InvalidPlacement for the first rule broken."""
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise InvalidPlacement("rebalance_experts must return a tuple (phy2log, log2phy, logcnt)")
    layers, experts, slots = next_load.shape[0], layout.num_logical, layout.num_slots
    phy2log, log2phy, logcnt = (_int_array(v, name) for v, name in zip(result, ("phy2log", "log2phy", "logcnt")))
    if phy2log.ndim != 2 or phy2log.shape[1] != slots:
        raise InvalidPlacement(f"phy2log shape wrong: {phy2log.shape}")
    if logcnt.shape != (layers, experts) or log2phy.ndim != 3 or log2phy.shape[:2] != (layers, experts):
        raise InvalidPlacement(f"logcnt {logcnt.shape} / log2phy {log2phy.shape} do not match the load {next_load.shape}")
    if (logcnt.sum(axis=1) != slots).any():
        raise InvalidPlacement(f"logcnt sums != {slots}: {logcnt.sum(axis=1)[:5].tolist()}...")
    if (logcnt < 0).any():
        raise InvalidPlacement("logcnt contains negative values")
    unhandled = (next_load > 0) & (logcnt == 0)
    if unhandled.any():
        raise InvalidPlacement(f"Unhandled load: {int(unhandled.sum())} experts have load but 0 replicas")
    listed = np.arange(log2phy.shape[2]) < np.minimum(logcnt, log2phy.shape[2])[..., None]
    if (logcnt > log2phy.shape[2]).any() or ((log2phy < 0) | (log2phy >= slots))[listed].any():
        raise InvalidPlacement("log2phy lists a slot outside 0..287 (or fewer slots than logcnt) for a replicated expert")
    _agrees_with_phy2log(phy2log, log2phy, listed, layers, slots)
    return log2phy, logcnt


def _agrees_with_phy2log(phy2log: np.ndarray, log2phy: np.ndarray, listed: np.ndarray, layers: int, slots: int) -> None:
    """Every listed slot holds the expert that lists it, and no slot is listed twice in a layer."""
    if phy2log.shape[0] != layers:
        raise InvalidPlacement(f"phy2log has {phy2log.shape[0]} layers, the load {layers}")
    layer, expert, k = np.nonzero(listed)
    slot = log2phy[layer, expert, k]
    wrong = np.flatnonzero(phy2log[layer, slot] != expert)
    if wrong.size:
        i = wrong[0]
        raise InvalidPlacement(f"log2phy puts expert {expert[i]} of layer {layer[i]} on slot {slot[i]}, which phy2log gives to expert {phy2log[layer[i], slot[i]]}")
    if np.unique(layer * slots + slot).size != slot.size:
        raise InvalidPlacement("log2phy lists one slot twice in a layer")


def balancedness(load: np.ndarray, log2phy: np.ndarray, logcnt: np.ndarray, layout: Layout) -> float:
    """The published ratio of sums for one call (see the module doc)."""
    layers = load.shape[0]
    slot_load = np.zeros((layers, layout.num_slots))
    share = np.where((load > 0) & (logcnt > 0), load / np.maximum(logcnt, 1), 0.0)
    for layer in range(layers):
        for expert in np.flatnonzero(share[layer]).tolist():
            slot_load[layer, log2phy[layer, expert, : logcnt[layer, expert]]] += share[layer, expert]
    if slot_load.sum() == 0:
        return 0.0
    gpu = slot_load.reshape(layers, layout.num_gpus, layout.slots_per_gpu).sum(axis=2)
    peak = gpu.max(axis=1).sum()
    return float(gpu.mean(axis=1).sum() / peak) if peak > 0 else 0.0
