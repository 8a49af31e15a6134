"""Synthetic spot-availability traces, calibrated to the real Can't Be Late traces.

Each environment is an alternating renewal (semi-Markov) process: availability comes in runs of
`1 + NegativeBinomial(shape, p)` ticks, alternating between "up" and "down", with the mean and
the coefficient of variation of each kind of run measured on the real recordings (12 days at
600 s per tick per environment, from the ADRS leaderboard's trace archive; the up/down means
are available / unavailable ticks per transition, so windows that cut a run do not bias them).
Real runs are short and over-dispersed (coefficients of variation 1.3-3.6): many ten-minute
flickers and a few outages lasting many hours. The negative binomial's shape is chosen per kind
of run to give that variance; by the renewal-reward theorem the long-run availability is
mean up / (mean up + mean down), as measured. Every draw uses a `numpy.random.Generator` seeded
from an explicit `SeedSequence`, so a (seed, stage, type, trace) tuple always yields the same trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TICK_SECONDS = 600
TRACE_DAYS = 12


@dataclass(frozen=True)
class TraceType:
    """One kind of spot capacity: mean length (hours) and coefficient of variation of its runs."""

    name: str
    mean_up_hours: float
    mean_down_hours: float
    up_cv: float
    down_cv: float

    @property
    def availability(self) -> float:
        return self.mean_up_hours / (self.mean_up_hours + self.mean_down_hours)


# Measured on the real single-region recordings (AWS us-west-2, 1 and 8 GPUs).
TRACE_TYPES: tuple[TraceType, ...] = (
    TraceType("us-west-2a_k80_1", 6.74, 0.33, 1.44, 1.28),  # availability 0.954
    TraceType("us-west-2a_k80_8", 1.83, 1.51, 1.36, 1.66),  # 0.547
    TraceType("us-west-2a_v100_1", 2.32, 1.06, 1.85, 1.75),  # 0.687
    TraceType("us-west-2a_v100_8", 0.69, 1.40, 1.62, 2.11),  # 0.331
    TraceType("us-west-2b_k80_1", 1.70, 5.16, 2.36, 3.58),  # 0.252
    TraceType("us-west-2b_k80_8", 1.29, 0.92, 1.43, 2.03),  # 0.585
    TraceType("us-west-2b_v100_1", 1.99, 1.34, 1.59, 1.53),  # 0.595
    TraceType("us-west-2b_v100_8", 0.58, 1.12, 1.37, 2.56),  # 0.341
)
TRACE_TYPES_BY_NAME = {t.name: t for t in TRACE_TYPES}
# The environments the leaderboard scores on (its evaluator_real30).
LEADERBOARD_ENVS = ("us-west-2a_k80_8", "us-west-2b_k80_1", "us-west-2b_k80_8", "us-west-2a_v100_1", "us-west-2a_v100_8", "us-west-2b_v100_1")

STAGE_CODES = {"smoke": 0, "train": 1, "test": 2}


def _run_lengths(rng: np.random.Generator, mean_hours: float, cv: float, count: int, tick_seconds: int = TICK_SECONDS) -> np.ndarray:
    """`count` run lengths in ticks (each >= 1) with mean `mean_hours` and about coefficient of variation `cv`."""
    mean_ticks = max(mean_hours * 3600.0 / tick_seconds, 1.0)
    extra = mean_ticks - 1.0
    if extra <= 0.0:
        return np.ones(count, dtype=np.int64)
    excess = (cv * mean_ticks) ** 2 - extra  # variance beyond a Poisson's
    shape = extra * extra / excess if excess > 0 else 1e6
    return 1 + rng.negative_binomial(shape, shape / (shape + extra), size=count)


def generate_trace(trace_type: TraceType, rng: np.random.Generator, n_ticks: int, tick_seconds: int = TICK_SECONDS) -> np.ndarray:
    """A boolean array of `n_ticks`: True where spot capacity is available during that tick."""
    runs = n_ticks // 2 + 1  # every run is >= 1 tick, so this many of each always covers n_ticks
    first_up = bool(rng.random() < trace_type.availability)
    up = _run_lengths(rng, trace_type.mean_up_hours, trace_type.up_cv, runs, tick_seconds)
    down = _run_lengths(rng, trace_type.mean_down_hours, trace_type.down_cv, runs, tick_seconds)
    lengths = np.empty(2 * runs, dtype=np.int64)
    states = np.empty(2 * runs, dtype=bool)
    lengths[0::2], lengths[1::2] = (up, down) if first_up else (down, up)
    states[0::2], states[1::2] = first_up, not first_up
    return np.repeat(states, lengths)[:n_ticks]


@dataclass(frozen=True)
class Window:
    """A slice of one trace that scenarios run on; `available` is a plain list for fast indexing."""

    trace_type: str
    trace_index: int
    start_tick: int
    available: tuple[bool, ...]

    @property
    def label(self) -> str:
        return f"{self.trace_type}#{self.trace_index}@{self.start_tick}"

    @property
    def mean_availability(self) -> float:
        return sum(self.available) / len(self.available) if self.available else 0.0


def trace_rng(seed: int, stage: str, type_index: int, trace_index: int) -> np.random.Generator:
    """The generator for one trace: independent streams per seed, stage, type and trace."""
    return np.random.default_rng(np.random.SeedSequence([seed, STAGE_CODES[stage], type_index, trace_index]))


def make_windows(
    *,
    seed: int,
    stage: str,
    trace_types: tuple[TraceType, ...],
    windows_per_type: int,
    windows_per_trace: int,
    window_ticks: int,
    trace_ticks: int = TRACE_DAYS * 24 * 3600 // TICK_SECONDS,
) -> list[Window]:
    """`windows_per_type` windows of `window_ticks` per trace type, at seeded random starts.

    Windows are cut from `ceil(windows_per_type / windows_per_trace)` traces per type; windows of
    one trace start at distinct offsets. Stages use disjoint seed streams, so their traces differ.
    """
    if window_ticks > trace_ticks:
        raise ValueError(f"window of {window_ticks} ticks does not fit a trace of {trace_ticks}")
    per_trace = max(1, windows_per_trace)
    windows: list[Window] = []
    for type_index, trace_type in enumerate(trace_types):
        remaining = windows_per_type
        trace_index = 0
        while remaining > 0:
            rng = trace_rng(seed, stage, type_index, trace_index)
            trace = generate_trace(trace_type, rng, trace_ticks)
            take = min(per_trace, remaining)
            starts = np.sort(rng.choice(trace_ticks - window_ticks + 1, size=take, replace=False))
            for start in starts.tolist():
                bits = tuple(trace[start : start + window_ticks].tolist())
                windows.append(Window(trace_type.name, trace_index, int(start), bits))
            remaining -= take
            trace_index += 1
    return windows
