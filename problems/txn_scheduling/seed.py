"""Seed for txn_scheduling: order 100 transactions so that conflicting ones overlap as little as
possible, to minimise the makespan (each operation locks its key for its own step).

`schedule(workload)` returns a permutation of range(workload.num_txns). `workload` offers:
txns (each a tuple of ("r" | "w", key) operations and ("*", None) idle steps), lengths, num_txns, num_keys, seed (for your
own random.Random), new_schedule() -> Schedule with peek(j) (makespan if j were appended),
start_if_added(j), append(j), makespan, order, copy(); and makespan(order).

This seed is a short-sighted greedy: it looks at only three random candidates per step and prefers short transactions.
"""

import random

# EVOLVE-BLOCK-START
SAMPLES = 3  # unscheduled transactions examined per step
LENGTH_WEIGHT = 1.0  # added per op of length: prefer short (> 0) or long (< 0) transactions


def schedule(workload):
    rng = random.Random(workload.seed)
    left = list(range(workload.num_txns))
    sched = workload.new_schedule()
    while left:
        picks = rng.sample(range(len(left)), min(SAMPLES, len(left)))
        best = min(picks, key=lambda i: sched.peek(left[i]) + LENGTH_WEIGHT * workload.lengths[left[i]])
        sched.append(left.pop(best))
    return sched.order
# EVOLVE-BLOCK-END
