"""Naive, load-oblivious placement: slot p holds expert p mod 256, so experts 0..31 get a second
replica whatever their load, and slots fill GPUs in order. The score's zero point."""

import numpy as np


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    layers, experts = np.shape(weight)
    row = np.arange(num_replicas) % experts
    phy2log = np.tile(row, (layers, 1))
    logcnt = np.tile(np.bincount(row, minlength=experts), (layers, 1))
    log2phy = -np.ones((layers, experts, int(logcnt.max())), dtype=np.int64)
    rank = np.arange(num_replicas) // experts  # replica number of each slot's expert
    log2phy[:, row, rank] = np.arange(num_replicas)
    return phy2log, log2phy, logcnt
