"""The only project files a sandbox holds: the candidate's server and the helper views it builds.

No workload generator, trace, simulator or scorer is in the sandbox, so a candidate cannot import
them to regenerate the workloads it is scored on. A view (a helper object an evaluator asks the
candidate's side to build from plain data, e.g. txn's Workload) must be listed here, with what
it imports. The docker image copies these files and is labelled with their hash; bwrap binds them.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

SERVER_MODULES = ("__init__.py", "candidate_server.py", "errors.py", "framing.py", "hardening.py", "pool_server.py", "scratch.py", "seccomp.py", "wire.py")
VIEW_MODULES = (
    "evaluators/__init__.py", "evaluators/txn/__init__.py", "evaluators/txn/cost.py", "evaluators/txn/view.py",
    "evaluators/txn/adrs_format.py", "evaluators/shims/__init__.py", "evaluators/shims/sky_spot.py",
    "evaluators/shims/txn_simulator.py", "evaluators/shims/eplb_torch.py",
)  # fmt: skip


def code_root() -> Path:
    """The folder that holds the `sandboxes` and `evaluators` packages (a checkout, or site-packages)."""
    return Path(str(importlib.resources.files("sandboxes"))).resolve().parent


def files() -> list[str]:
    """Paths relative to code_root(), in a stable order."""
    return [f"sandboxes/{name}" for name in SERVER_MODULES] + list(VIEW_MODULES)
