"""DeepSeek's hierarchical load-balancing policy (EPLB), reimplemented in NumPy from its
description:

1. pack the expert groups onto nodes with balanced packing (heaviest group first, onto the
   lightest node that still has room for a group);
2. within each node, start with one replica per expert and repeatedly give one more replica to
   the expert with the highest load per replica until the node's slots are used;
3. pack each node's physical replicas onto its GPUs with balanced packing (heaviest replica
   first onto the lightest GPU that still has a free slot).

All layers (and nodes) are processed at once as a batch; the loops run over items, not layers.
"""

import numpy as np


def balanced_packing(weight, num_packs):
    """weight [B, n] -> (pack [B, n], rank within pack [B, n]); n / num_packs items per pack."""
    batch, n = weight.shape
    per_pack = n // num_packs
    order = np.argsort(-weight, axis=1, kind="stable")
    pack = np.empty((batch, n), dtype=np.int64)
    rank = np.empty((batch, n), dtype=np.int64)
    loads = np.zeros((batch, num_packs))
    counts = np.zeros((batch, num_packs), dtype=np.int64)
    rows = np.arange(batch)
    for i in range(n):
        item = order[:, i]
        target = np.where(counts < per_pack, loads, np.inf).argmin(axis=1)
        pack[rows, item] = target
        rank[rows, item] = counts[rows, target]
        loads[rows, target] += weight[rows, item]
        counts[rows, target] += 1
    return pack, rank


def replicate(weight, num_phy):
    """weight [B, n] -> (phy2log [B, num_phy], replica rank [B, num_phy], logcnt [B, n])."""
    batch, n = weight.shape
    rows = np.arange(batch)
    phy2log = np.empty((batch, num_phy), dtype=np.int64)
    rank = np.zeros((batch, num_phy), dtype=np.int64)
    phy2log[:, :n] = np.arange(n)
    logcnt = np.ones((batch, n), dtype=np.int64)
    for i in range(n, num_phy):
        expert = (weight / logcnt).argmax(axis=1)
        phy2log[:, i] = expert
        rank[:, i] = logcnt[rows, expert]
        logcnt[rows, expert] += 1
    return phy2log, rank, logcnt


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    weight = np.asarray(weight, dtype=np.float64)
    layers, experts = weight.shape
    group_size = experts // num_groups
    groups_per_node = num_groups // num_nodes
    experts_per_node = experts // num_nodes
    phy_per_node = num_replicas // num_nodes
    gpus_per_node = num_gpus // num_nodes
    slots_per_gpu = num_replicas // num_gpus

    # 1. groups -> nodes; "meta-logical" ids number experts node by node
    group_load = weight.reshape(layers, num_groups, group_size).sum(axis=2)
    group_pack, group_rank = balanced_packing(group_load, num_nodes)
    group_slot = group_pack * groups_per_node + group_rank  # [layers, groups]
    log2mlog = (group_slot[:, :, None] * group_size + np.arange(group_size)).reshape(layers, experts)
    mlog2log = np.argsort(log2mlog, axis=1)

    # 2. replicate within each node
    mlog_load = np.take_along_axis(weight, mlog2log, axis=1).reshape(layers * num_nodes, experts_per_node)
    phy2mlog, phy_rank, mlogcnt = replicate(mlog_load, phy_per_node)

    # 3. physical replicas -> GPUs within each node
    phy_load = np.take_along_axis(mlog_load / mlogcnt, phy2mlog, axis=1)
    gpu, gpu_rank = balanced_packing(phy_load, gpus_per_node)
    phy2pphy = gpu * slots_per_gpu + gpu_rank
    pphy2phy = np.argsort(phy2pphy, axis=1)
    pphy2mlog = np.take_along_axis(phy2mlog, pphy2phy, axis=1)
    pphy_rank = np.take_along_axis(phy_rank, pphy2phy, axis=1).reshape(layers, num_replicas)
    node_offset = (np.arange(layers * num_nodes) % num_nodes * experts_per_node)[:, None]
    pphy2mlog = (pphy2mlog + node_offset).reshape(layers, num_replicas)
    phy2log = np.take_along_axis(mlog2log, pphy2mlog, axis=1)
    logcnt = np.take_along_axis(mlogcnt.reshape(layers, experts), log2mlog, axis=1)

    log2phy = -np.ones((layers, experts, int(logcnt.max())), dtype=np.int64)
    rows = np.repeat(np.arange(layers), num_replicas)
    log2phy[rows, phy2log.ravel(), pphy_rank.ravel()] = np.tile(np.arange(num_replicas), layers)
    return phy2log, log2phy, logcnt
