"""Least KV usage, Llumnix-style "freeness" (OSDI'24): route to the instance with the most KV
memory left per running request once queued demand is counted,
freeness = (kv_capacity - kv_used - queued_kv_tokens) / max(running, 1), among instances whose
KV capacity can hold the request; ties go to the lowest index."""


class Router:
    def __init__(self, cluster):
        self.n = cluster.n_instances

    def route(self, request, state):
        best, best_free = None, None
        for i in range(self.n):
            if request.kv_tokens > state.kv_capacity[i]:
                continue
            free = (state.kv_capacity[i] - state.kv_used[i] - state.queued_kv_tokens[i]) / max(state.running[i], 1)
            if best_free is None or free > best_free:
                best, best_free = i, free
        return best
