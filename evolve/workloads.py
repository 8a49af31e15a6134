"""Private workloads: a run's evaluator seed is mixed with a secret that never enters a sandbox.

The shipped workloads come from public seeds, so that `evolve eval` and the baseline tables are
the same everywhere. A candidate that copied a workload generator could rebuild those scenarios
and recognise the one it is playing: look-ahead. So a run scores everything (seed, baselines,
children) on workloads seeded from HMAC(machine key, run seed): the same run seed on the same
machine gives the same workloads (runs stay reproducible; evaluators.loading.mix turns the salt
and the evaluator's own seed into the seed it gets), nobody without the key can predict
them, and the run stores the salt, so resume and replay use exactly the same ones.

The machine key is $EVOLVE_WORKLOAD_KEY, else a random key kept in
~/.local/share/evolve/workload-key (created on first use, mode 0600). Share it to reproduce a
run's workloads on another machine.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_ENV = "EVOLVE_WORKLOAD_KEY"
KEY_FILE = Path("~/.local/share/evolve/workload-key")


def machine_key() -> bytes:
    configured = os.environ.get(KEY_ENV)
    if configured:
        return configured.encode()
    path = KEY_FILE.expanduser()
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key


def run_salt(run_seed: int) -> int:
    """The secret mixed into a run's evaluator seed: 63 bits of HMAC(machine key, run seed)."""
    digest = hmac.new(machine_key(), f"evolve-workloads:{run_seed}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1

