"""Power of two choices (Mitzenmacher): sample two distinct instances that can hold the request
and send it to the one with fewer outstanding requests (waiting + running). The sampler is seeded
per scenario, so the router is deterministic."""

import random


class Router:
    def __init__(self, cluster):
        self.n = cluster.n_instances
        self.rng = random.Random(2)

    def route(self, request, state):
        feasible = [i for i in range(self.n) if request.kv_tokens <= state.kv_capacity[i]]
        if len(feasible) < 2:
            return feasible[0]
        a, b = self.rng.sample(feasible, 2)
        load_a = state.queue_len[a] + state.running[a]
        load_b = state.queue_len[b] + state.running[b]
        return a if (load_a, a) <= (load_b, b) else b
