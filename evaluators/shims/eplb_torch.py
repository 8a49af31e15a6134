"""Run a published EPLB program, written for torch tensors, behind our NumPy interface.

The leaderboard's EPLB programs take the load as a torch tensor and return torch tensors.
`published_rebalancer(source)` imports such a program and returns `rebalance_experts` for our
evaluator: the NumPy load becomes a tensor of the same dtype (the leaderboard passes the summed
integer counts), and the three tensors come back as NumPy arrays. It needs torch where the
candidate runs (e.g. `pip install torch` and the process sandbox); the docker image and bwrap's
view of the host do not carry it.
"""

from __future__ import annotations

import types

import numpy as np


def published_rebalancer(source: str):
    import torch  # noqa: F401 - fail at import time, with a clear error, where torch is missing

    program = types.ModuleType("published_eplb")
    exec(compile(source, "<published eplb>", "exec"), program.__dict__)

    def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
        import torch

        result = program.rebalance_experts(torch.from_numpy(np.ascontiguousarray(weight)), num_replicas, num_groups, num_nodes, num_gpus)
        return tuple(r.detach().cpu().numpy() if isinstance(r, torch.Tensor) else np.asarray(r) for r in result)

    return rebalance_experts
