"""Discrete-event simulation of continuous-batching LLM instances behind a request router.

Model (exact; every quantity in seconds and tokens):

* Each instance runs iterations back to back while it has work. An iteration's duration is
  `iter_base + iter_per_seq * b + prefill_per_token * p`, with b the sequences in the batch and p
  the prompt tokens of the requests admitted (prefilled) in that iteration.
* At the start of every iteration the instance first retires the requests that emitted their last
  token in the previous iteration (freeing their KV), then admits waiting requests in arrival
  order (FCFS, head-of-line: it stops at the first that does not fit) while the batch has fewer
  than `max_batch` sequences and the request's KV reservation fits in the free KV.
* A request reserves `prompt + max_tokens` KV tokens from admission to completion (the engine
  cannot know the real output length; the unused part of the budget is internal fragmentation).
* A request admitted in iteration j is prefilled in j and emits its first token at the end of j
  (TTFT = end of j - arrival); it then decodes one token per iteration and completes at the end
  of iteration j + output - 1 (end-to-end latency = that time - arrival).
* An idle instance starts an iteration the moment a request arrives; a busy one considers new
  arrivals at its next iteration boundary. Boundary events at the same time as an arrival are
  processed first, so the router sees the state just before the arrival.

The router is called once per request, at its arrival, in arrival order, and must return the
index of an instance whose KV capacity can hold the request. Between changes the batch is
constant, so the simulator jumps from change to change (admissions, completions) rather than
stepping every iteration: O(requests log requests) events per scenario.

`steps` is the simulation as a generator: it yields the (request, state) of each call as plain
field dicts and receives the answer, so the evaluator can run all scenarios in lockstep with one
batched call to the candidate per arrival (evaluators.lockstep). `simulate` drives it with a
trusted, in-process router (tests, research scripts).
"""

from __future__ import annotations

import heapq
import math
from collections import deque, namedtuple
from dataclasses import dataclass

import numpy as np

from evaluators.answers import Invalid, show
from evaluators.llm_routing.workload import Workload


REQUEST_FIELDS = ("id", "arrival", "prompt_tokens", "max_tokens", "kv_tokens")
STATE_FIELDS = ("time", "queue_len", "queued_kv_tokens", "running", "kv_used", "kv_free", "kv_capacity")
Request = namedtuple("Request", REQUEST_FIELDS)  # what the router knows about the arriving request
State = namedtuple("State", STATE_FIELDS)  # instance states at the arrival time; tuples, one entry per instance


@dataclass(frozen=True)
class ClusterInfo:
    """What a Router is told once per scenario."""

    n_instances: int
    kv_capacity: tuple[int, ...]
    max_batch: int
    iter_base: float
    iter_per_seq: float
    prefill_per_token: float


@dataclass(frozen=True)
class SimResult:
    """How a scenario went; arrays are per request, in arrival order (empty when invalid)."""

    ttft: np.ndarray
    e2e: np.ndarray
    routed: tuple[int, ...]  # requests per instance
    max_queue: tuple[int, ...]  # longest waiting queue seen per instance
    invalid: str | None = None  # the first broken rule, e.g. "request 17: returned 9, ..."
    unserved: int = 0


def cluster_info(workload: Workload) -> ClusterInfo:
    c = workload.cluster
    return ClusterInfo(c.n_instances, c.kv_capacity, c.max_batch, c.iter_base, c.iter_per_seq, c.prefill_per_token)


def check_choice(choice: object, n: int, need: int, capacity: tuple[int, ...]) -> tuple[int | None, str | None]:
    """(instance, None) for a valid choice, else (None, the rule it breaks)."""
    if isinstance(choice, Invalid):
        return None, choice.reason
    if choice.__class__ is not int:
        return None, f"returned {show(choice)} ({type(choice).__name__}), not an int instance index"
    if not 0 <= choice < n:
        return None, f"returned {choice}, not an instance index in 0..{n - 1}"
    if need > capacity[choice]:
        return None, (
            f"routed to instance {choice} (KV capacity {capacity[choice]} tokens) but needs "
            f"{need} KV tokens (prompt + max_tokens): it could never be admitted"
        )
    return choice, None


def simulate(router, workload: Workload) -> SimResult:
    """Run one scenario with a trusted, in-process `router.route(request, state)`."""
    run = steps(workload)
    try:
        request, state = next(run)
        while True:
            choice = router.route(Request(**request), State(**state))
            request, state = run.send(int(choice) if isinstance(choice, np.integer) else choice)
    except StopIteration as done:
        return done.value


def steps(workload: Workload):  # noqa: C901 - one tight event loop
    """The simulation as a generator: yields (request, state) field dicts, receives the answer."""
    c = workload.cluster
    a_cost, b_cost, c_cost, max_batch = c.iter_base, c.iter_per_seq, c.prefill_per_token, c.max_batch
    n_inst, cap = c.n_instances, c.kv_capacity
    arrival, prompt, output = workload.arrival, workload.prompt, workload.output
    need = [p + m for p, m in zip(prompt, workload.max_tokens)]
    n = workload.n

    kv_used = [0] * n_inst
    queues = [deque() for _ in range(n_inst)]
    queued_kv = [0] * n_inst
    running = [0] * n_inst
    finishing: list[list[tuple[int, int]]] = [[] for _ in range(n_inst)]  # heaps of (last iteration, request)
    seg = [(0, 0.0, 0.0, 0.0)] * n_inst  # (first iteration, its start, its duration, decode duration)
    busy = [False] * n_inst
    next_iter = [0] * n_inst
    version = [0] * n_inst
    events: list[tuple[float, int, int, int]] = []  # (time, version, instance, iteration)
    first_token = [math.nan] * n
    finish = [math.nan] * n
    routed = [0] * n_inst
    max_queue = [0] * n_inst

    def schedule(i: int, m: int, t: float) -> None:
        version[i] += 1
        next_iter[i] = m
        heapq.heappush(events, (t, version[i], i, m))

    def boundary(i: int, m: int, t: float) -> None:
        heap = finishing[i]
        while heap and heap[0][0] < m:
            r = heapq.heappop(heap)[1]
            finish[r] = t
            kv_used[i] -= need[r]
            running[i] -= 1
        queue = queues[i]
        free = cap[i] - kv_used[i]
        prefill = 0
        admitted = []
        while queue and running[i] < max_batch and need[queue[0]] <= free:
            r = queue.popleft()
            free -= need[r]
            kv_used[i] += need[r]
            queued_kv[i] -= need[r]
            running[i] += 1
            prefill += prompt[r]
            admitted.append(r)
            heapq.heappush(heap, (m + output[r] - 1, r))
        batch = running[i]
        if batch == 0:
            busy[i] = False
            seg[i] = (m, t, 0.0, 0.0)
            return
        busy[i] = True
        decode = a_cost + b_cost * batch
        first = decode + c_cost * prefill
        for r in admitted:
            first_token[r] = t + first
        seg[i] = (m, t, first, decode)
        k = heap[0][0] + 1  # the boundary after the next completion
        schedule(i, k, t + first + (k - m - 1) * decode)

    capacity = tuple(cap)
    for r in range(n):
        t = arrival[r]
        while events and events[0][0] <= t:
            te, ver, i, m = heapq.heappop(events)
            if ver == version[i]:
                boundary(i, m, te)
        request = {"id": r, "arrival": t, "prompt_tokens": prompt[r], "max_tokens": workload.max_tokens[r], "kv_tokens": need[r]}
        state = {
            "time": t, "queue_len": tuple(len(q) for q in queues), "queued_kv_tokens": tuple(queued_kv),
            "running": tuple(running), "kv_used": tuple(kv_used), "kv_free": tuple(c - u for c, u in zip(cap, kv_used)),
            "kv_capacity": capacity,
        }  # fmt: skip
        answer = yield request, state
        i, problem = check_choice(answer, n_inst, need[r], capacity)
        if problem is not None:
            return SimResult(np.empty(0), np.empty(0), tuple(routed), tuple(max_queue), f"request {r} (t={t:.3f}s): {problem}")
        routed[i] += 1
        queue = queues[i]
        queue.append(r)
        queued_kv[i] += need[r]
        if len(queue) > max_queue[i]:
            max_queue[i] = len(queue)
        if not busy[i]:
            boundary(i, seg[i][0], t)
        elif len(queue) == 1 and need[r] <= cap[i] - kv_used[i] and running[i] < max_batch:
            j0, t0, first, decode = seg[i]
            end0 = t0 + first
            if t <= end0:
                m, tm = j0 + 1, end0
            else:
                x = math.ceil((t - end0) / decode)
                if end0 + x * decode < t:
                    x += 1
                m, tm = j0 + 1 + x, end0 + x * decode
            if m < next_iter[i]:
                schedule(i, m, tm)
    while events:
        te, ver, i, m = heapq.heappop(events)
        if ver == version[i]:
            boundary(i, m, te)

    arrivals = np.asarray(arrival)
    ttft = np.asarray(first_token) - arrivals
    e2e = np.asarray(finish) - arrivals
    unserved = int(np.count_nonzero(np.isnan(e2e) | np.isnan(ttft)))
    return SimResult(ttft, e2e, tuple(routed), tuple(max_queue), None, unserved)


def isolated_ttft(workload: Workload) -> np.ndarray:
    """Each request's TTFT alone on an idle instance: the floor no router can beat."""
    c = workload.cluster
    return c.iter_base + c.iter_per_seq + c.prefill_per_token * np.asarray(workload.prompt, dtype=float)
