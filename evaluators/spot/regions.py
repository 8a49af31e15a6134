"""Synthetic multi-region spot traces for spot_multi (ADRS "Can't Be Late" multi-region variant).

The nine AWS V100 zones of the published set (us-east-1a/c/d/f, us-east-2a/b, us-west-2a/b/c),
a 195 s tick and 60 h traces, as in the published setup. Each zone is the single-region trace
model (evaluators.spot.traces: alternating runs, negative-binomial lengths) with the run means
and coefficients of variation measured per zone on the real recordings (100 windows of 60 h per
zone, from the ADRS leaderboard's archive): us-west-2 has spot about 91-93% of the time,
us-east-1a 19%. Zones are independent of one another (the real ones are correlated within a
region; the model leaves that out).

A scenario draws a region set of k zones (k = 2..9, in a seeded random order; the job starts in
the first), one 60 h trace per zone, and a window of the deadline's length at a seeded random
offset inside the traces (the same offset for every zone: one wall clock).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluators.spot.traces import STAGE_CODES, TraceType, generate_trace

TICK_SECONDS = 195
TRACE_HOURS = 60
TRACE_TICKS = TRACE_HOURS * 3600 // TICK_SECONDS  # 1107 whole ticks

ZONES: tuple[TraceType, ...] = (
    TraceType("us-east-1a_v100_1", 0.74, 3.26, 1.43, 1.95),  # availability 0.185
    TraceType("us-east-1c_v100_1", 1.41, 1.60, 2.03, 1.59),  # 0.468
    TraceType("us-east-1d_v100_1", 1.73, 1.89, 2.04, 1.61),  # 0.477
    TraceType("us-east-1f_v100_1", 2.37, 1.48, 1.95, 1.73),  # 0.615
    TraceType("us-east-2a_v100_1", 5.18, 1.69, 1.80, 1.61),  # 0.752
    TraceType("us-east-2b_v100_1", 4.27, 2.03, 1.48, 1.43),  # 0.676
    TraceType("us-west-2a_v100_1", 7.22, 0.68, 1.75, 1.25),  # 0.913
    TraceType("us-west-2b_v100_1", 12.42, 0.90, 1.81, 1.36),  # 0.932
    TraceType("us-west-2c_v100_1", 8.29, 0.70, 1.93, 1.48),  # 0.922
)


@dataclass(frozen=True)
class RegionWindow:
    """One scenario's availability: a tuple of per-zone tuples, region 0 first."""

    index: int
    zones: tuple[str, ...]
    start_tick: int
    available: tuple[tuple[bool, ...], ...]

    @property
    def label(self) -> str:
        return f"{len(self.zones)} regions #{self.index}@{self.start_tick} [{', '.join(self.zones)}]"

    @property
    def mean_availability(self) -> float:
        return float(np.mean([np.mean(a) for a in self.available]))


def region_rng(seed: int, stage: str, count: int, index: int) -> np.random.Generator:
    """Independent streams per seed, stage, region-set size and window."""
    return np.random.default_rng(np.random.SeedSequence([seed, STAGE_CODES[stage], 1000 + count, index]))


def make_region_windows(
    *, seed: int, stage: str, counts: tuple[int, ...], windows_per_count: int, window_ticks: int
) -> list[RegionWindow]:
    """`windows_per_count` scenarios for each region-set size in `counts`."""
    if window_ticks > TRACE_TICKS:
        raise ValueError(f"window of {window_ticks} ticks does not fit a {TRACE_HOURS} h trace")
    windows: list[RegionWindow] = []
    for count in counts:
        if not 1 <= count <= len(ZONES):
            raise ValueError(f"region set size {count} outside 1..{len(ZONES)}")
        for index in range(windows_per_count):
            rng = region_rng(seed, stage, count, index)
            picked = rng.choice(len(ZONES), size=count, replace=False)
            start = int(rng.integers(0, TRACE_TICKS - window_ticks + 1))
            bits = []
            for zone in picked.tolist():
                trace = generate_trace(ZONES[zone], rng, TRACE_TICKS, TICK_SECONDS)
                bits.append(tuple(trace[start : start + window_ticks].tolist()))
            names = tuple(ZONES[z].name for z in picked.tolist())
            windows.append(RegionWindow(index, names, start, tuple(bits)))
    return windows
