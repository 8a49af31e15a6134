"""Round-robin: the next instance in turn, skipping those whose KV capacity cannot hold the
request. The score's 0 anchor (the evaluator runs its own copy of this router)."""


class Router:
    def __init__(self, cluster):
        self.n = cluster.n_instances
        self.next = 0

    def route(self, request, state):
        for _ in range(self.n):
            i = self.next % self.n
            self.next += 1
            if request.kv_tokens <= state.kv_capacity[i]:
                return i
        raise ValueError(f"no instance can hold request {request.id}")
