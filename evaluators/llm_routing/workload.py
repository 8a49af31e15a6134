"""Synthetic LLM serving workloads: bursty arrivals and heavy-tailed prompt and output lengths.

BurstGPT (10.31 M Azure OpenAI requests over 213 days) and the Llumnix traces are not reachable
here, so a scenario is generated from a fixed seed with the shapes they document:

* Arrivals: Gamma inter-arrival times with coefficient of variation `cv` (shape 1/cv^2), so
  requests come in bursts (cv 2-4 here; Poisson would be cv 1).
* Two request classes. Chat: prompt lognormal (median 350 tokens, sigma 1.0), output lognormal
  (median 180, sigma 0.9). Long-context (a `long_fraction` share): prompt lognormal (median
  6000, sigma 0.7), output lognormal (median 250, sigma 0.8). Both are heavy-tailed; lengths are
  clipped to at least 8 prompt / 1 output tokens and to what the largest instance can hold.
* `max_tokens`: the output budget the client asks for, the smallest of 256, 512, 1024, 2048, 4096
  at or above the real output length; the engine reserves KV for prompt + max_tokens.

Every draw uses `numpy.random.default_rng(SeedSequence([seed, stage code, scenario index]))`,
so a (seed, stage, scenario) triple always yields the same requests and stages never share one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STAGE_CODES = {"smoke": 0, "train": 1, "test": 2}
BUDGETS = np.array([256, 512, 1024, 2048, 4096])


@dataclass(frozen=True)
class Cluster:
    """The serving instances of a scenario and their cost model (seconds, tokens)."""

    kv_capacity: tuple[int, ...]  # KV-cache tokens per instance
    max_batch: int = 128  # sequences per iteration
    iter_base: float = 0.008  # s per iteration
    iter_per_seq: float = 0.0002  # s per sequence in the batch (decode step cost)
    prefill_per_token: float = 0.0001  # s per prompt token prefilled in the iteration

    @property
    def n_instances(self) -> int:
        return len(self.kv_capacity)


@dataclass(frozen=True)
class Shape:
    """A scenario family: cluster, load and burstiness."""

    name: str
    cluster: Cluster
    rate: float  # mean requests per second
    cv: float  # coefficient of variation of inter-arrival times
    long_fraction: float
    requests: int


SHAPES: tuple[Shape, ...] = (
    Shape("chat4", Cluster((32768,) * 4), rate=11.0, cv=3.0, long_fraction=0.04, requests=1500),
    Shape("mixed6", Cluster((98304,) * 2 + (24576,) * 4), rate=11.0, cv=2.5, long_fraction=0.12, requests=1500),
    Shape("bursty8", Cluster((49152,) * 8), rate=24.0, cv=4.0, long_fraction=0.08, requests=2000),
)
SHAPES_BY_NAME = {s.name: s for s in SHAPES}


@dataclass(frozen=True)
class Workload:
    """One scenario's requests, sorted by arrival; plain lists for fast indexing in the simulator."""

    label: str
    cluster: Cluster
    arrival: list[float]
    prompt: list[int]
    output: list[int]
    max_tokens: list[int]
    long: list[bool]

    @property
    def n(self) -> int:
        return len(self.arrival)


def _lognormal(rng: np.random.Generator, median: float, sigma: float, size: int) -> np.ndarray:
    return rng.lognormal(np.log(median), sigma, size)


def generate(shape: Shape, seed: int, stage: str, index: int, scale: float = 1.0) -> Workload:
    """Scenario `index` of `shape` for `stage`; `scale` shrinks the request count (smoke, tests)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, STAGE_CODES[stage], index]))
    n = max(1, int(round(shape.requests * scale)))
    k = 1.0 / shape.cv**2
    gaps = rng.gamma(k, 1.0 / (shape.rate * k), n)
    arrival = np.cumsum(gaps) - gaps[0]
    long = rng.random(n) < shape.long_fraction
    prompt = np.where(long, _lognormal(rng, 6000, 0.7, n), _lognormal(rng, 350, 1.0, n))
    output = np.where(long, _lognormal(rng, 250, 0.8, n), _lognormal(rng, 180, 0.9, n))
    output = np.clip(np.rint(output), 1, BUDGETS[-1]).astype(np.int64)
    max_tokens = BUDGETS[np.searchsorted(BUDGETS, output)]
    room = max(shape.cluster.kv_capacity) - max_tokens
    prompt = np.clip(np.rint(prompt), 8, room).astype(np.int64)
    return Workload(
        label=f"{shape.name}#{index}",
        cluster=shape.cluster,
        arrival=arrival.tolist(),
        prompt=prompt.tolist(),
        output=output.tolist(),
        max_tokens=max_tokens.tolist(),
        long=long.tolist(),
    )
