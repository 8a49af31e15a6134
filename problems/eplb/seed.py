"""Seed for eplb: place 256 logical experts (plus 32 redundant replicas) on 288 GPU slots so that
every GPU gets about the same load in the NEXT window.

rebalance_experts(weight [layers, 256] token counts, num_replicas=288, num_groups=8,
num_nodes=4, num_gpus=32) returns (phy2log [layers, 288], log2phy [layers, 256, max replicas]
padded with -1, logcnt [layers, 256]); slot p lives on GPU p // 9. Every expert needs at least
one replica; an expert's load is split evenly over its replicas.

This seed is simple: it hands the redundant slots out by a dampened load (load ** POWER), at
most MAX_REPLICAS per expert, and deals the replicas, heaviest first, over the GPUs in plain
round-robin order. The frozen `rebalance_experts` below builds the three maps from the two
evolved steps.
"""

import numpy as np

# EVOLVE-BLOCK-START
POWER = 0.5  # replicas follow load ** POWER (1.0: proportional to load)
SMOOTHING = 1.0  # tokens added to every expert's load before anything else
MAX_REPLICAS = 3  # no expert gets more replicas than this


def replica_counts(load, num_replicas):
    """[layers, experts] replicas per expert (>= 1 each, summing to num_replicas per layer)."""
    layers, experts = load.shape
    score = (load + SMOOTHING) ** POWER
    logcnt = np.ones((layers, experts), dtype=np.int64)
    rows = np.arange(layers)
    for _ in range(num_replicas - experts):
        best = np.where(logcnt < MAX_REPLICAS, score / logcnt, -1.0).argmax(axis=1)
        logcnt[rows, best] += 1
    return logcnt


def place(load, logcnt, num_gpus, slots_per_gpu):
    """[layers, num_gpus * slots_per_gpu] logical expert per physical slot."""
    layers, experts = load.shape
    phy2log = np.empty((layers, num_gpus * slots_per_gpu), dtype=np.int64)
    for layer in range(layers):
        replicas = np.repeat(np.arange(experts), logcnt[layer])
        per_replica = load[layer, replicas] / logcnt[layer, replicas]
        order = replicas[np.argsort(-per_replica, kind="stable")]
        for i, expert in enumerate(order.tolist()):
            phy2log[layer, (i % num_gpus) * slots_per_gpu + i // num_gpus] = expert
    return phy2log
# EVOLVE-BLOCK-END


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    load = np.asarray(weight, dtype=np.float64)
    logcnt = replica_counts(load, num_replicas)
    phy2log = place(load, logcnt, num_gpus, num_replicas // num_gpus)
    layers, experts = load.shape
    log2phy = -np.ones((layers, experts, int(logcnt.max())), dtype=np.int64)
    for layer in range(layers):
        slots = np.argsort(phy2log[layer], kind="stable")  # slots grouped by expert
        starts = np.concatenate(([0], np.cumsum(logcnt[layer])[:-1]))
        rank = np.arange(num_replicas) - np.repeat(starts, logcnt[layer])
        log2phy[layer, phy2log[layer, slots], rank] = slots
    return phy2log, log2phy, logcnt
