"""Strict checks on a candidate's placement before it is scored; one reason per broken rule.

The published EPLB evaluator rewarded a placement that gave loaded experts zero replicas (their
tokens silently vanished). Every rule below closes such a door: the output must be exactly
DeepSeek's (phy2log, log2phy, logcnt) triple, integer-typed, with consistent maps, a replica for
every logical expert, and all slots used.
"""

from __future__ import annotations

import numpy as np

from evaluators.eplb.layout import Layout


class InvalidPlacement(ValueError):
    """The returned placement breaks a rule; the message names the rule and where."""


def _int_array(value: object, name: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - ragged, too deep, too large: an answer, not our failure
        raise InvalidPlacement(f"{name} is not an array: {type(exc).__name__}: {str(exc)[:200]}") from None
    if array.dtype.kind not in "iu":
        raise InvalidPlacement(f"{name} must hold integers, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def _shape(array: np.ndarray, name: str, shape: tuple) -> None:
    if array.shape != shape:
        raise InvalidPlacement(f"{name} has shape {array.shape}, expected {shape}")


def check_placement(result: object, load: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """(phy2log, logcnt) as int64 arrays, or InvalidPlacement for the first rule broken.

    `load` is the window the placement was computed from (to tell loaded experts apart).
    """
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise InvalidPlacement("rebalance_experts must return a tuple (phy2log, log2phy, logcnt)")
    layers, experts, slots = load.shape[0], layout.num_logical, layout.num_slots
    phy2log = _int_array(result[0], "phy2log")
    log2phy = _int_array(result[1], "log2phy")
    logcnt = _int_array(result[2], "logcnt")
    _shape(phy2log, "phy2log", (layers, slots))
    _shape(logcnt, "logcnt", (layers, experts))
    if log2phy.ndim != 3 or log2phy.shape[:2] != (layers, experts):
        raise InvalidPlacement(f"log2phy has shape {log2phy.shape}, expected ({layers}, {experts}, max replicas)")

    if (logcnt < 0).any():
        layer, expert = np.argwhere(logcnt < 0)[0].tolist()
        raise InvalidPlacement(f"logcnt is negative ({logcnt[layer, expert]}) for expert {expert} in layer {layer}")
    sums = logcnt.sum(axis=1)
    if (sums != slots).any():
        layer = int(np.flatnonzero(sums != slots)[0])
        raise InvalidPlacement(f"logcnt sums to {sums[layer]} in layer {layer}, not the {slots} physical slots")
    empty = logcnt == 0
    if (empty & (load > 0)).any():
        layer, expert = np.argwhere(empty & (load > 0))[0].tolist()
        raise InvalidPlacement(f"expert {expert} in layer {layer} has load {load[layer, expert]:g} but 0 replicas")
    if empty.any():
        layer, expert = np.argwhere(empty)[0].tolist()
        raise InvalidPlacement(
            f"expert {expert} in layer {layer} has 0 replicas (every expert needs one: its next-window load would be dropped)"
        )

    if ((phy2log < 0) | (phy2log >= experts)).any():
        layer, slot = np.argwhere((phy2log < 0) | (phy2log >= experts))[0].tolist()
        raise InvalidPlacement(f"phy2log[{layer}, {slot}] = {phy2log[layer, slot]} is not an expert in 0..{experts - 1}")
    counted = np.stack([np.bincount(row, minlength=experts) for row in phy2log])
    if (counted != logcnt).any():
        layer, expert = np.argwhere(counted != logcnt)[0].tolist()
        raise InvalidPlacement(
            f"phy2log gives expert {expert} in layer {layer} {counted[layer, expert]} slots but logcnt says {logcnt[layer, expert]}"
        )

    _check_log2phy(log2phy, phy2log, logcnt, slots)
    return phy2log, logcnt


def _check_log2phy(log2phy: np.ndarray, phy2log: np.ndarray, logcnt: np.ndarray, slots: int) -> None:
    width = log2phy.shape[2]
    if width < logcnt.max():
        raise InvalidPlacement(f"log2phy has room for {width} replicas per expert, logcnt needs {logcnt.max()}")
    used = np.arange(width) < logcnt[..., None]
    if (log2phy[~used] != -1).any():
        layer, expert, col = np.argwhere(~used & (log2phy != -1))[0].tolist()
        raise InvalidPlacement(f"log2phy[{layer}, {expert}, {col}] must be -1 (expert has {logcnt[layer, expert]} replicas)")
    listed = log2phy[used]
    if ((listed < 0) | (listed >= slots)).any():
        layer, expert, col = np.argwhere(used & ((log2phy < 0) | (log2phy >= slots)))[0].tolist()
        raise InvalidPlacement(f"log2phy[{layer}, {expert}, {col}] = {log2phy[layer, expert, col]} is not a slot in 0..{slots - 1}")
    experts_of = np.broadcast_to(np.arange(log2phy.shape[1])[None, :, None], log2phy.shape)
    layers_of = np.broadcast_to(np.arange(log2phy.shape[0])[:, None, None], log2phy.shape)
    wrong = used & (phy2log[layers_of, np.where(used, log2phy, 0)] != experts_of)
    if wrong.any():
        layer, expert, col = np.argwhere(wrong)[0].tolist()
        slot = log2phy[layer, expert, col]
        raise InvalidPlacement(
            f"log2phy lists slot {slot} for expert {expert} in layer {layer}, but phy2log puts expert {phy2log[layer, slot]} there"
        )
    per_layer = np.sort(listed.reshape(log2phy.shape[0], slots), axis=1)
    if (per_layer != np.arange(slots)).any():
        layer = int(np.flatnonzero((per_layer != np.arange(slots)).any(axis=1))[0])
        raise InvalidPlacement(f"log2phy lists a slot twice for one expert in layer {layer}")
