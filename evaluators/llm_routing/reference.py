"""The evaluator's own round-robin router: the score's 0 anchor (kept apart from the problem's
baselines, which a user may edit)."""

from __future__ import annotations


class RoundRobin:
    """Next instance in turn among those whose KV capacity can hold the request."""

    def __init__(self, cluster) -> None:
        self.n = cluster.n_instances
        self.next = 0

    def route(self, request, state) -> int:
        for _ in range(self.n):
            i = self.next % self.n
            self.next += 1
            if request.kv_tokens <= state.kv_capacity[i]:
                return i
        raise ValueError(f"no instance can hold request {request.id}")
