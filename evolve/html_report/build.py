"""Write a run's report to disk atomically, timing the build."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from evolve.errors import UserError
from evolve.html_report.collect import collect
from evolve.html_report.page import render_page
from evolve.store import RunInfo, Store


@dataclass(frozen=True)
class BuiltReport:
    path: Path
    size_bytes: int
    seconds: float
    candidates: int


def write_report(store: Store, run: RunInfo, out: Path, now: datetime | None = None) -> BuiltReport:
    """Build the page and replace `out` with it in one step (a reader never sees half a file)."""
    started = time.perf_counter()
    data = collect(store, run, now)
    text = render_page(data).encode("utf-8")
    _write_atomically(out, text)
    return BuiltReport(out, len(text), time.perf_counter() - started, len(data.candidates))


def _write_atomically(out: Path, content: bytes) -> None:
    if out.is_dir():
        raise UserError(f"cannot write the report to {out}: it is a folder (give a file name, e.g. {out / 'report.html'})")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise UserError(f"cannot write the report to {out}: {folder} is not an existing folder")
    try:
        handle, temp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=folder)
    except OSError as exc:
        raise UserError(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.chmod(temp, 0o644)
        os.replace(temp, out)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise UserError(f"cannot write the report to {out}: {exc.strerror or exc}") from None
