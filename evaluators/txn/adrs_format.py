"""The published transaction format: a workload is a JSON object {"txn0": "w-17 r-5 * w-3", ...}.

Each transaction is a space-separated list of steps: `r-KEY` (read), `w-KEY` (write) or `*`
(an idle step). Keys are strings; here they are numbered densely in order of first appearance.
Used by the evaluator (to read the leaderboard's workloads, and to describe ours in this format)
and by the candidate-side shim of ADRS's simulator (evaluators.shims.txn_simulator).
"""

from __future__ import annotations

import json

from evaluators.txn.cost import IDLE, Txn


class FormatError(ValueError):
    """A workload that is not in the published format."""


def parse(workload_json: str) -> tuple[tuple[Txn, ...], tuple[str, ...]]:
    """(transactions with dense keys, the original key of each dense key)."""
    try:
        steps_by_txn = list(json.loads(workload_json).values())
    except (ValueError, AttributeError) as exc:
        raise FormatError(f"not a JSON object of transactions ({exc})") from None
    keys: dict[str, int] = {}
    txns = []
    for number, text in enumerate(steps_by_txn):
        if not isinstance(text, str) or not text.split():
            raise FormatError(f"transaction {number} is not a string of steps")
        ops = []
        for step in text.split(" "):
            if step == "*":
                ops.append((False, IDLE))
                continue
            kind, _, key = step.partition("-")
            if kind not in ("r", "w") or not key:
                raise FormatError(f"transaction {number}: step {step!r} is not r-KEY, w-KEY or *")
            ops.append((kind == "w", keys.setdefault(key, len(keys))))
        txns.append(tuple(ops))
    return tuple(txns), tuple(keys)


def dump(txns: tuple[Txn, ...]) -> str:
    """Transactions (dense int keys) as a published workload string."""
    def step(write: bool, key: int) -> str:
        return "*" if key == IDLE else f"{'w' if write else 'r'}-{key + 1}"

    return json.dumps({f"txn{j}": " ".join(step(w, k) for w, k in txn) for j, txn in enumerate(txns)}, separators=(",", ":"))
