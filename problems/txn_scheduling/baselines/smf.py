"""SMF-style greedy (shortest makespan first), the ADRS baseline.

Start from a random transaction; at each step sample up to 10 unscheduled transactions and
append the one whose addition increases the makespan least (the first sampled on ties).
"""

import random

SAMPLES = 10


def schedule(workload):
    rng = random.Random(workload.seed)
    left = list(range(workload.num_txns))
    sched = workload.new_schedule()
    first = left.pop(rng.randrange(len(left)))
    sched.append(first)
    while left:
        picks = rng.sample(range(len(left)), min(SAMPLES, len(left)))
        best = min(picks, key=lambda i: sched.peek(left[i]))
        sched.append(left.pop(best))
    return sched.order
