"""Real spot traces in the published Can't Be Late format, read from a path the user gives.

The ADRS leaderboard repository (UCB-ADRS/ADRS-Leaderboard) ships them as
`problems/cant_be_late/resources/real_traces.tar.gz` and
`problems/cant_be_late_multi/resources/real_traces.tar.gz`; it has no licence, so we never ship
them. Point `traces` at either archive, or at the folder it was extracted into:

single region  .../ddl=search+task=48+overhead=0.02/real/<env>/traces/random_start/<n>.json
               one folder per restart overhead (the files are the same in each), one per
               environment (us-west-2a_k80_8, ...), 300 windows of 554 ticks of 600 s (92.3 h)
               cut at random offsets from a 12-day recording;
multi region   .../converted_multi_region_aligned/<region>/<n>.json
               100 windows of 1107 ticks of 195 s (60 h) per region (us-east-1a_v100_1, ...);
               window n starts at the same moment in every region.

Each file is JSON: {"metadata": {"gap_seconds": 600, "start_time": 684, ...}, "data": [0, 1,
...], "prices": [...]} where data[t] is 1 while spot is preempted (unavailable) during tick t,
`start_time` the window's offset on its recording (ticks; an ISO time in the multi-region set)
and `prices` (multi-region only) the spot price per tick.
"""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SINGLE = re.compile(r"overhead=([0-9.]+)/real/([^/]+)/traces/random_start/([^/]+)\.json$")
MULTI = re.compile(r"converted_multi_region_aligned/([^/]+)/([^/]+)\.json$")


class TraceError(ValueError):
    """The traces the user named are missing or not in the published format."""


@dataclass(frozen=True)
class Recording:
    """One trace file: a window of spot availability in one environment or region."""

    source: str  # environment (single region) or region (multi region)
    name: str  # file name without .json, e.g. "17"
    gap_seconds: int
    start: int | None  # offset on the recording's timeline, in ticks (None: unknown)
    available: tuple[bool, ...]
    prices: tuple[float, ...] | None  # spot price per tick, when the file has them

    @property
    def interval(self) -> tuple[int, int] | None:
        return None if self.start is None else (self.start, self.start + len(self.available))

    @property
    def label(self) -> str:
        return f"{self.source}/{self.name}"


class Archive:
    """The files of a trace set, from a folder or a .tar.gz, by path relative to it."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise TraceError(f"traces: {self.path} does not exist")
        self._tar = None
        if self.path.is_file():
            try:
                self._tar = tarfile.open(self.path)
            except (tarfile.TarError, OSError) as exc:
                raise TraceError(f"traces: {self.path} is neither a folder nor a readable .tar.gz ({str(exc).splitlines()[0]})") from None
            names = [m.name for m in self._tar.getmembers() if m.isfile()]
        else:
            names = [str(p.relative_to(self.path)) for p in self.path.rglob("*.json")]
        self.names = sorted(n for n in names if not Path(n).name.startswith("._"))  # AppleDouble files are not traces

    def matching(self, pattern: re.Pattern) -> dict[tuple[str, ...], list[str]]:
        """Paths matching `pattern`, grouped by all but its last group, each group sorted by name."""
        found: dict[tuple[str, ...], list[str]] = {}
        for name in self.names:
            m = pattern.search(name)
            if m:
                found.setdefault(m.groups()[:-1], []).append(name)
        return {key: sorted(paths, key=lambda p: Path(p).name) for key, paths in found.items()}

    def load(self, names: list[str], sources: list[str]) -> list[Recording]:
        """The named files as recordings (one sequential pass over a .tar.gz)."""
        if self._tar is None:
            raw = {n: _read(self.path / n, n) for n in names}
        else:
            wanted, raw = set(names), {}
            self._tar = tarfile.open(self.path)  # a gzip stream reads forward only: start again
            for member in self._tar:
                if member.name in wanted:
                    raw[member.name] = self._tar.extractfile(member).read()
        return [_parse(raw[n], n, s) for n, s in zip(names, sources)]


def _read(path: Path, name: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TraceError(f"traces: cannot read {name} ({exc})") from None


def _parse(raw: bytes, name: str, source: str) -> Recording:
    try:
        data = json.loads(raw)
        meta = data["metadata"]
        gap = meta["gap_seconds"]
        bits = data["data"]
        prices = data.get("prices")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TraceError(f"traces: {name} is not a published trace file ({type(exc).__name__}: {exc})") from None
    if not isinstance(gap, (int, float)) or gap <= 0 or gap != int(gap) or not isinstance(bits, list) or not bits:
        raise TraceError(f"traces: {name} has no positive whole gap_seconds or no data")
    if any(b not in (0, 1) for b in bits) or (prices is not None and (not isinstance(prices, list) or len(prices) != len(bits))):
        raise TraceError(f"traces: {name}: data must be 0/1 per tick (and prices, if any, one per tick)")
    return Recording(source, Path(name).stem, int(gap), _start(meta.get("start_time"), int(gap)),
                     tuple(b == 0 for b in bits), tuple(float(p) for p in prices) if prices else None)  # fmt: skip


def _start(value: object, gap: int) -> int | None:
    """A window's offset in ticks: an int is one already, an ISO time is counted from the epoch."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return round(moment.timestamp() / gap)
    return None


def evenly_spaced(count: int, take: int) -> list[int]:
    """Indices of `take` items spread evenly over `count` (the leaderboard's trace selection:
    round(j * (count - 1) / (take - 1)), pushed up past the previous pick, capped at the last)."""
    if count <= take:
        return list(range(count))
    picks, previous = [], -1
    for j in range(take):
        index = round(j * (count - 1) / (take - 1 if take > 1 else 1))
        index = min(max(index, previous + 1), count - 1)
        picks.append(index)
        previous = index
    return picks


def single_region(archive: Archive, overheads: tuple[float, ...], envs: tuple[str, ...], per_env: int,
                  min_hours: float, held_out: bool = False) -> dict[tuple[float, str], list[Recording]]:  # fmt: skip
    """Per (overhead, environment), the windows the leaderboard scores: `per_env` spread evenly
    over the files that cover `min_hours` (or, held out, as many of the others)."""
    groups = archive.matching(SINGLE)
    wanted = {}
    for overhead in overheads:
        label = f"{overhead:.2f}"
        for env in envs:
            names = groups.get((label, env))
            if not names:
                raise TraceError(f"traces: {archive.path} has no windows for environment {env} at overhead {label} "
                                 f"(expected .../ddl=search+task=48+overhead={label}/real/{env}/traces/random_start/*.json)")  # fmt: skip
            wanted[(overhead, env)] = names
    flat = [n for names in wanted.values() for n in names]
    loaded = dict(zip(flat, archive.load(flat, [key[1] for key, names in wanted.items() for _ in names])))
    out = {}
    for key, names in wanted.items():
        windows = [w for w in map(loaded.get, names) if len(w.available) * w.gap_seconds / 3600.0 + 1e-9 >= min_hours]
        picked = evenly_spaced(len(windows), per_env)
        if held_out:
            rest = [i for i in range(len(windows)) if i not in set(picked)]
            picked = [rest[i] for i in evenly_spaced(len(rest), per_env)]
        if not picked:
            what = "is left for the held-out test stage" if held_out and windows else f"covers {min_hours:g} h"
            raise TraceError(f"traces: no window of {key[1]} {what} ({len(windows)} long enough, {per_env} per stage)")
        out[key] = [windows[i] for i in picked]
    return out


def region_windows(archive: Archive, requests: list[tuple[tuple[str, ...], str]]) -> list[list[Recording]]:
    """For each (regions, window name), that window of every region, region order kept (one pass)."""
    groups = archive.matching(MULTI)
    names, sources = [], []
    for regions, name in requests:
        for region in regions:
            paths = [p for p in groups.get((region,), []) if Path(p).stem == name]
            if not paths:
                raise TraceError(f"traces: {archive.path} has no window {name}.json for region {region} "
                                 f"(expected .../converted_multi_region_aligned/{region}/{name}.json)")  # fmt: skip
            names.append(paths[0])
            sources.append(region)
    unique = sorted(set(names))
    loaded = dict(zip(unique, archive.load(unique, [sources[names.index(n)] for n in unique])))
    out, at = [], 0
    for regions, name in requests:
        windows = [loaded[n] for n in names[at : at + len(regions)]]
        at += len(regions)
        if len({w.gap_seconds for w in windows}) > 1:
            raise TraceError(f"traces: window {name} has different gap_seconds across regions")
        out.append(windows)
    return out
