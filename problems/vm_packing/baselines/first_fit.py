"""First fit: the lowest-numbered machine with room (the simulator only considers machines with
room, so a priority that decreases with the index is exactly first fit)."""

import numpy as np


def priority(vm, machines):
    return -np.arange(machines.count, dtype=float)
