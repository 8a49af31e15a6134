"""Strict checks on a candidate's schedule before it is scored; one reason per broken rule."""

from __future__ import annotations

import numbers

import numpy as np

from evaluators.answers import show


class InvalidSchedule(ValueError):
    """The returned order is not a permutation of the workload's transactions."""


def _as_index(value: object, position: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InvalidSchedule(f"entry {position} is {show(value)} ({type(value).__name__}), not an int transaction index")
    return int(value)


def check_order(order: object, num_txns: int) -> list[int]:
    """The order as a list of ints, or InvalidSchedule naming the first rule it breaks.

    Rules: a list, tuple or 1-D integer array; length == number of transactions; every entry an
    int (bool, float, NaN, str rejected); every index in [0, n); no transaction twice (so none
    missing).
    """
    if isinstance(order, np.ndarray):
        if order.ndim != 1:
            raise InvalidSchedule(f"returned an array of shape {order.shape}, not a 1-D order")
        order = order.tolist()
    if not isinstance(order, (list, tuple)):
        raise InvalidSchedule(f"returned {type(order).__name__}, not a list of transaction indices")
    if len(order) != num_txns:
        raise InvalidSchedule(f"returned {len(order)} entries for {num_txns} transactions")
    indices = [_as_index(v, i) for i, v in enumerate(order)]
    seen = [False] * num_txns
    for position, j in enumerate(indices):
        if not 0 <= j < num_txns:
            raise InvalidSchedule(f"entry {position} is {j}, outside 0..{num_txns - 1}")
        if seen[j]:
            missing = seen.index(False)
            raise InvalidSchedule(f"transaction {j} is scheduled twice (transaction {missing} is missing)")
        seen[j] = True
    return indices
