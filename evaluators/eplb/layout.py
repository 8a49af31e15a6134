"""The cluster shape of the EPLB problem (DeepSeek-V3-like)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """Physical slot p lives on GPU p // slots_per_gpu; GPU g on node g // gpus_per_node.
    Logical expert e belongs to group e // (num_logical // num_groups)."""

    num_layers: int = 58
    num_logical: int = 256
    num_groups: int = 8
    num_nodes: int = 4
    num_gpus: int = 32
    num_slots: int = 288

    def __post_init__(self) -> None:
        if self.num_slots % self.num_gpus or self.num_gpus % self.num_nodes or self.num_logical % self.num_groups:
            raise ValueError("slots must divide over GPUs, GPUs over nodes, experts over groups")
        if self.num_slots < self.num_logical:
            raise ValueError("need at least one slot per logical expert")

    @property
    def slots_per_gpu(self) -> int:
        return self.num_slots // self.num_gpus
