"""Seed router for llm_routing: send each arriving LLM request to one of N serving instances.

Every instance runs continuous batching with a KV-cache budget: a request reserves
prompt + max_tokens KV tokens while it runs and waits in the instance's FCFS queue until that
fits. `route(request, state)` is called once per request, at its arrival, and returns the index
of an instance whose KV capacity can hold it (request.kv_tokens <= state.kv_capacity[i]).

request: id, arrival, prompt_tokens, max_tokens, kv_tokens (= prompt_tokens + max_tokens)
state:   time, and per instance (tuples): queue_len, queued_kv_tokens, running, kv_used,
         kv_free, kv_capacity
cluster: n_instances, kv_capacity, max_batch, iter_base, iter_per_seq, prefill_per_token
A new Router is built for every scenario, so it may keep per-scenario state on `self`.

This seed picks the instance with the lowest weighted load: waiting requests, running
requests, and the KV demand (used + queued) as a fraction of the instance's capacity.
"""

# EVOLVE-BLOCK-START
QUEUE_WEIGHT = 1.0  # per waiting request
RUNNING_WEIGHT = 1.2  # per running request
KV_WEIGHT = 0.5  # per full KV cache of demand (used + queued, over capacity)
# EVOLVE-BLOCK-END


class Router:
    # EVOLVE-BLOCK-START
    def __init__(self, cluster):
        self.n = cluster.n_instances

    def route(self, request, state):
        best, best_cost = None, None
        for i in range(self.n):
            capacity = state.kv_capacity[i]
            if request.kv_tokens > capacity:
                continue  # could never be admitted there
            demand = (state.kv_used[i] + state.queued_kv_tokens[i]) / capacity
            cost = QUEUE_WEIGHT * state.queue_len[i] + RUNNING_WEIGHT * state.running[i] + KV_WEIGHT * demand
            if best_cost is None or cost < best_cost:
                best, best_cost = i, cost
        return best
    # EVOLVE-BLOCK-END
