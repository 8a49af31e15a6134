"""Seed priority for vm_packing: place each arriving VM on a machine of a fixed pool.

For every arriving VM the simulator calls `priority(vm, machines)` and places the VM on the
highest-scoring machine that has room for it (ties: lowest index); when no machine has room
the placement fails. Score all machines at once with NumPy: return a float array of shape
(machines.count,), finite, one score per machine.

vm:       id, time (hours), cpu (vCPUs), mem (GiB)
machines: count, cpu_capacity (64), mem_capacity (256), time, and arrays of length count:
          cpu_free, mem_free, n_vms (copies: writing to them changes nothing)

This seed is a weighted best fit: prefer the machine with the least CPU (and, less, memory)
left after placing the VM, with a slight preference for low-numbered machines.
"""

import numpy as np

# EVOLVE-BLOCK-START
CPU_WEIGHT = 1.0  # weight of the CPU share left after placing
MEM_WEIGHT = 0.25  # weight of the memory share left after placing
ORDER_WEIGHT = 0.1  # preference for low-numbered machines (a first-fit flavour)
# EVOLVE-BLOCK-END


def priority(vm, machines):
    # EVOLVE-BLOCK-START
    index = np.arange(machines.count) / machines.count
    cpu_left = (machines.cpu_free - vm.cpu) / machines.cpu_capacity
    mem_left = (machines.mem_free - vm.mem) / machines.mem_capacity
    return -(CPU_WEIGHT * cpu_left + MEM_WEIGHT * mem_left + ORDER_WEIGHT * index)
    # EVOLVE-BLOCK-END
