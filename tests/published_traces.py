"""Small spot traces in the published Can't Be Late format, written by tests (we ship none).

    root = write_single(tmp_path, {"us-west-2a_v100_1": [(684, bits), ...], ...})
    root = write_multi(tmp_path, {"us-east-1a_v100_1": [(start_iso, bits, prices), ...], ...})
    archive = tar_of(root)

`bits` are availabilities (True: spot available); the files hold the published 1 = preempted.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

OVERHEADS = (0.02, 0.05, 0.1)


def write_single(root: Path, windows: dict[str, list[tuple[int | None, list[bool]]]], overheads=OVERHEADS, gap: int = 600) -> Path:
    for overhead in overheads:
        for env, items in windows.items():
            folder = root / "real" / f"ddl=search+task=48+overhead={overhead:.2f}" / "real" / env / "traces" / "random_start"
            folder.mkdir(parents=True, exist_ok=True)
            for n, (start, bits) in enumerate(items):
                meta = {"gap_seconds": gap} if start is None else {"gap_seconds": gap, "start_time": start, "end_time": start + len(bits)}
                (folder / f"{n}.json").write_text(json.dumps({"metadata": meta, "data": [0 if b else 1 for b in bits]}))
    return root


def write_multi(root: Path, windows: dict[str, list[tuple[str, list[bool], list[float]]]], gap: int = 195) -> Path:
    for region, items in windows.items():
        folder = root / "converted_multi_region_aligned" / region
        folder.mkdir(parents=True, exist_ok=True)
        for n, (start, bits, prices) in enumerate(items):
            body = {"metadata": {"gap_seconds": gap, "start_time": start}, "data": [0 if b else 1 for b in bits], "prices": prices}
            (folder / f"{n}.json").write_text(json.dumps(body))
    return root


def tar_of(root: Path) -> Path:
    path = root.parent / f"{root.name}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for child in sorted(root.iterdir()):
            tar.add(child, arcname=child.name)
    return path
