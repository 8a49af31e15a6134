"""Transaction workloads: synthetic ones from fixed seeds, shaped like ADRS's, or the published ones.

The three published workloads (the ADRS leaderboard's `workloads.py`, TPC-C-like) each have 100
transactions in one of three shapes, which the synthetic families copy with fresh random keys:

dense       16 operations on 16 distinct keys; 4 hot keys in every transaction, the others
            drawn from a Zipf-like popularity (exponent 1.1) over 200 keys; 55% writes.
hot_pair    half `r-h r-x w-x` + 18 idle steps (21 steps), half `r-h w-h r-x w-x *` (5 steps):
            h one of 4 hot keys, x one of 10 keys that belong to h.
read_write  `r-a`, 7 idle steps, `w-b` (9 steps): a one of 5 keys, b one of 5 others.

Workload i of a stage is family i mod 3. Key ids are permuted per workload, so hot keys are not
simply the small integers. `load_published(path)` reads the leaderboard's workloads (its
`workloads.py`, whose WORKLOAD_N string constants are read without running the file, or a JSON
file mapping names to workloads in the published format).
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluators.txn.adrs_format import FormatError, dump, parse
from evaluators.txn.cost import IDLE, Txn

NUM_TXNS = 100
FAMILIES = ("dense", "hot_pair", "read_write")
STAGE_CODES = {"smoke": 0, "train": 1, "test": 2}


class WorkloadError(ValueError):
    """The published workloads the user named are missing or malformed."""


@dataclass(frozen=True)
class TxnWorkload:
    """One workload: `txns[j]` is a tuple of (is_write, key) steps, key IDLE for an idle step."""

    label: str
    seed: int
    txns: tuple[Txn, ...]
    num_keys: int

    @property
    def source(self) -> str:
        """The workload in the published JSON format."""
        return dump(self.txns)


def make_workload(seed: int, stage: str, index: int, *, num_txns: int = NUM_TXNS) -> TxnWorkload:
    rng = np.random.default_rng(np.random.SeedSequence([seed, STAGE_CODES[stage], index]))
    family = FAMILIES[index % len(FAMILIES)]
    raw = {"dense": _dense, "hot_pair": _hot_pair, "read_write": _read_write}[family](rng, num_txns)
    order = rng.permutation(len(raw))
    ids = rng.permutation(1 + max(k for t in raw for _, k in t if k != IDLE))  # fresh key names
    dense: dict[int, int] = {}
    txns = tuple(tuple((w, IDLE if k == IDLE else dense.setdefault(int(ids[k]), len(dense))) for w, k in raw[j]) for j in order.tolist())
    return TxnWorkload(f"{stage}#{index} ({family})", int(rng.integers(0, 2**31 - 1)), txns, len(dense))


def _dense(rng: np.random.Generator, n: int) -> list[Txn]:
    weights = 1.0 / np.arange(1, 201) ** 1.1
    weights /= weights.sum()
    txns = []
    for _ in range(n):
        keys = [0, 1, 2, 3] + (4 + rng.choice(200, size=12, replace=False, p=weights)).tolist()
        rng.shuffle(keys)
        txns.append(tuple((bool(rng.random() < 0.55), int(k)) for k in keys))
    return txns


def _hot_pair(rng: np.random.Generator, n: int) -> list[Txn]:
    txns = []
    for j in range(n):
        hot = int(rng.integers(4))
        local = 4 + 10 * hot + int(rng.integers(10))
        if j % 2:
            txns.append(((False, hot), (False, local), (True, local)) + ((False, IDLE),) * 18)
        else:
            txns.append(((False, hot), (True, hot), (False, local), (True, local), (False, IDLE)))
    return txns


def _read_write(rng: np.random.Generator, n: int) -> list[Txn]:
    return [((False, int(rng.integers(5))),) + ((False, IDLE),) * 7 + ((True, 5 + int(rng.integers(5))),) for _ in range(n)]


def make_workloads(seed: int, stage: str, count: int) -> list[TxnWorkload]:
    return [make_workload(seed, stage, i) for i in range(count)]


def load_published(path: str | Path) -> list[TxnWorkload]:
    """The published workloads, in their order (WORKLOAD_1, WORKLOAD_2, ... or the JSON's keys)."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkloadError(f"workloads: cannot read {path} ({exc})") from None
    named = _from_python(text) if path.suffix == ".py" else _from_json(text, path)
    if not named:
        raise WorkloadError(f"workloads: {path} holds no workloads (expected WORKLOAD_1 = '...' string constants, or a JSON object)")
    out = []
    for name, source in named:
        try:
            txns, keys = parse(source)
        except FormatError as exc:
            raise WorkloadError(f"workloads: {name} in {path}: {exc}") from None
        out.append(TxnWorkload(name, 0, txns, len(keys)))
    return out


def _from_python(text: str) -> list[tuple[str, str]]:
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise WorkloadError(f"workloads: not Python ({exc})") from None
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id.startswith("WORKLOAD") and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                found.append((node.targets[0].id, node.value.value))
    return found


def _from_json(text: str, path: Path) -> list[tuple[str, str]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise WorkloadError(f"workloads: {path} is neither a .py file nor JSON ({exc})") from None
    if not isinstance(data, dict):
        raise WorkloadError(f"workloads: {path} is not a JSON object of named workloads")
    return [(name, value if isinstance(value, str) else json.dumps(value)) for name, value in data.items()]
