"""Join the shortest queue: the instance with the fewest outstanding requests (waiting +
running) among those whose KV capacity can hold the request; ties go to the lowest index."""


class Router:
    def __init__(self, cluster):
        self.n = cluster.n_instances

    def route(self, request, state):
        best, best_load = None, None
        for i in range(self.n):
            if request.kv_tokens > state.kv_capacity[i]:
                continue
            load = state.queue_len[i] + state.running[i]
            if best_load is None or load < best_load:
                best, best_load = i, load
        return best
