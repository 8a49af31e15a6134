"""Synthetic VM arrival/departure workloads for online 2-D (CPU, memory) placement.

Google's Borg and Azure VM traces are not reachable here; a scenario is generated from a fixed
seed with the shapes they are known for:

* A pool of identical machines (64 vCPU, 256 GiB: 4 GiB per vCPU).
* VM shapes from a cloud catalogue: vCPUs in {1, 2, 4, 8, 16, 32} (small ones dominate) and a
  memory ratio in {1, 2, 4, 8} GiB per vCPU (high-CPU, balanced, standard, high-memory), so the
  two dimensions fill at different rates and capacity gets stranded.
* Arrivals: a Poisson process whose rate follows a daily cycle
  `rate(t) = base * (1 + amplitude * sin(2 pi t / 24 h))`, with `base` set so that the offered
  CPU load averages `load` of the pool; lifetimes lognormal (median 1 h, sigma 1.5: most VMs
  are short, a few live for days), as in the Azure and Borg lifetime distributions.
* The scenario starts `warmup` hours before the measured window [0, horizon] with an empty pool,
  so the window sees a cluster in steady state.

Every draw uses `numpy.random.default_rng(SeedSequence([seed, stage code, scenario index]))`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

STAGE_CODES = {"smoke": 0, "train": 1, "test": 2}
CPUS = np.array([1, 2, 4, 8, 16, 32], dtype=float)
RATIOS = np.array([1, 2, 4, 8], dtype=float)  # GiB per vCPU


@dataclass(frozen=True)
class Pool:
    machines: int = 40
    cpu: float = 64.0
    mem: float = 256.0


@dataclass(frozen=True)
class Shape:
    """A scenario family: pool, load, and the VM catalogue mix."""

    name: str
    pool: Pool
    load: float  # mean offered CPU as a fraction of the pool
    amplitude: float  # daily swing of the arrival rate
    cpu_probs: tuple[float, ...]
    ratio_probs: tuple[float, ...]
    horizon: float = 24.0  # hours measured
    warmup: float = 12.0  # hours simulated before the window
    lifetime_median: float = 1.0  # hours
    lifetime_sigma: float = 1.5


SHAPES: tuple[Shape, ...] = (
    Shape("standard", Pool(), 0.63, 0.5, (0.30, 0.25, 0.20, 0.13, 0.08, 0.04), (0.15, 0.25, 0.40, 0.20)),
    Shape("highmem", Pool(), 0.52, 0.5, (0.30, 0.25, 0.20, 0.13, 0.08, 0.04), (0.10, 0.15, 0.30, 0.45)),
    Shape("large", Pool(), 0.63, 0.4, (0.15, 0.15, 0.20, 0.20, 0.18, 0.12), (0.20, 0.25, 0.35, 0.20)),
)
SHAPES_BY_NAME = {s.name: s for s in SHAPES}


@dataclass(frozen=True)
class Workload:
    """One scenario: VMs sorted by arrival (hours; negative during warm-up)."""

    label: str
    pool: Pool
    horizon: float
    start: np.ndarray
    end: np.ndarray
    cpu: np.ndarray
    mem: np.ndarray

    @property
    def n(self) -> int:
        return len(self.start)


def generate(shape: Shape, seed: int, stage: str, index: int, scale: float = 1.0) -> Workload:
    """Scenario `index` of `shape` for `stage`; `scale` shortens the window (smoke, tests)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, STAGE_CODES[stage], index]))
    pool, horizon, warmup = shape.pool, shape.horizon * scale, shape.warmup * scale
    cpu_probs, ratio_probs = np.asarray(shape.cpu_probs), np.asarray(shape.ratio_probs)
    mean_cpu = float(CPUS @ (cpu_probs / cpu_probs.sum()))
    mean_life = shape.lifetime_median * math.exp(shape.lifetime_sigma**2 / 2)
    base = shape.load * pool.machines * pool.cpu / (mean_cpu * mean_life)  # VMs per hour
    peak = base * (1 + shape.amplitude)
    span = horizon + warmup
    count = rng.poisson(peak * span)
    start = np.sort(rng.uniform(-warmup, horizon, count))
    phase = rng.uniform(0, 24)
    keep = rng.random(count) < (1 + shape.amplitude * np.sin(2 * np.pi * (start + phase) / 24)) / (1 + shape.amplitude)
    start = start[keep]
    n = len(start)
    cpu = CPUS[rng.choice(len(CPUS), n, p=cpu_probs / cpu_probs.sum())]
    mem = cpu * RATIOS[rng.choice(len(RATIOS), n, p=ratio_probs / ratio_probs.sum())]
    mem = np.minimum(mem, pool.mem)
    life = rng.lognormal(math.log(shape.lifetime_median), shape.lifetime_sigma, n)
    return Workload(f"{shape.name}#{index}", pool, horizon, start, start + life, cpu, mem)
