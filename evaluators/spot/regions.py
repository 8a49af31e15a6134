"""Synthetic multi-region spot traces for spot_multi (ADRS "Can't Be Late" multi-region variant).

Nine AWS V100 zones across us-east-1, us-east-2 and us-west-2, a 195 s tick and 60 h traces, as
in the published setup. The original traces are not available here, so each zone is the same
alternating renewal process as the single-region traces (evaluators.spot.traces), with its own
long-run availability and cycle length; zones are independent of one another. The two us-west-2
zones carry the published single-region V100 availabilities (0.69 and 0.55); the others spread
over the published V100 range (0.31-0.69) and a little below it.

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
    TraceType("us-east-1a", 0.42, 6.0),
    TraceType("us-east-1b", 0.25, 5.0),
    TraceType("us-east-1c", 0.58, 8.0),
    TraceType("us-east-1d", 0.33, 6.0),
    TraceType("us-east-1f", 0.50, 7.0),
    TraceType("us-east-2a", 0.64, 9.0),
    TraceType("us-east-2b", 0.38, 5.0),
    TraceType("us-west-2a", 0.69, 8.0),
    TraceType("us-west-2b", 0.55, 6.0),
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
