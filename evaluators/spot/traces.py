"""Synthetic spot-availability traces, calibrated to the Can't Be Late trace statistics.

The original traces (AWS us-west-2a/2b, K80/V100, 1 and 8 GPUs, about 12 days at 600 s per tick)
are not available here, so each trace type is an alternating renewal (semi-Markov) process:
availability comes in runs of `1 + NegativeBinomial(RUN_SHAPE, p)` ticks, alternating between
"up" and "down". With a shape below 1 the run lengths are over-dispersed (many short flickers,
some outages lasting many hours), closer to real spot capacity than a per-tick Markov chain.

For a type with target availability `a` and mean cycle length `c` hours, the mean up-run is
`a * c` and the mean down-run `(1 - a) * c`; by the renewal-reward theorem the long-run fraction
of available ticks is exactly `a`. Every draw uses a `numpy.random.Generator` seeded from an
explicit `SeedSequence`, so a (seed, stage, type, trace) tuple always yields the same trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TICK_SECONDS = 600
TRACE_DAYS = 12
RUN_SHAPE = 0.6  # negative-binomial shape of run lengths; < 1 means heavy-ish tails


@dataclass(frozen=True)
class TraceType:
    """One kind of spot capacity: target long-run availability and mean up+down cycle."""

    name: str
    availability: float
    cycle_hours: float

    @property
    def mean_up_hours(self) -> float:
        return self.availability * self.cycle_hours

    @property
    def mean_down_hours(self) -> float:
        return (1.0 - self.availability) * self.cycle_hours


# Published mean availabilities (PROBLEMS.md section 1); cycle lengths are our choice, hours long.
TRACE_TYPES: tuple[TraceType, ...] = (
    TraceType("2a_k80_1", 0.95, 24.0),
    TraceType("2b_k80_1", 0.21, 10.0),
    TraceType("2a_v100_1", 0.69, 8.0),
    TraceType("2b_v100_1", 0.55, 6.0),
    TraceType("2a_k80_8", 0.59, 9.0),
    TraceType("2a_v100_8", 0.31, 7.0),
)
TRACE_TYPES_BY_NAME = {t.name: t for t in TRACE_TYPES}

STAGE_CODES = {"smoke": 0, "train": 1, "test": 2}


def _run_lengths(
    rng: np.random.Generator, mean_hours: float, count: int, tick_seconds: int = TICK_SECONDS
) -> np.ndarray:
    """`count` run lengths in ticks (each >= 1) with mean `mean_hours` (at least one tick)."""
    mean_ticks = max(mean_hours * 3600.0 / tick_seconds, 1.0)
    extra = mean_ticks - 1.0
    if extra <= 0.0:
        return np.ones(count, dtype=np.int64)
    p = RUN_SHAPE / (RUN_SHAPE + extra)
    return 1 + rng.negative_binomial(RUN_SHAPE, p, size=count)


def generate_trace(
    trace_type: TraceType, rng: np.random.Generator, n_ticks: int, tick_seconds: int = TICK_SECONDS
) -> np.ndarray:
    """A boolean array of `n_ticks`: True where spot capacity is available during that tick."""
    runs = n_ticks // 2 + 1  # every run is >= 1 tick, so this many of each always covers n_ticks
    first_up = bool(rng.random() < trace_type.availability)
    up = _run_lengths(rng, trace_type.mean_up_hours, runs, tick_seconds)
    down = _run_lengths(rng, trace_type.mean_down_hours, runs, tick_seconds)
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
