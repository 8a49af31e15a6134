"""Render ReportData as one self-contained HTML page: Jinja2 for the page, Plotly for the charts.

Everything the page needs is inside the file (plotly.js, our script and style, the data), and a
Content-Security-Policy allows only those two scripts by hash and no network at all: even if a
piece of stored text slipped past escaping, the browser would refuse to run or fetch anything.
"""

from __future__ import annotations

import base64
import hashlib
import math
from importlib import resources

import plotly.graph_objects as go
import plotly.offline
from jinja2 import Environment, PackageLoader, StrictUndefined

from evolve.html_report.figures import failures_figure, grid_figure, score_figure, spend_charted, spend_figure, tree_figure
from evolve.html_report.payload import pack, safe_json
from evolve.html_report.values import ReportData

SECTIONS = (("glance", "At a glance"), ("scores", "Scores"), ("lineage", "Lineage"), ("failures", "Failures"),
            ("spend", "Spend"), ("grid", "Grids"), ("candidates", "Candidates"))


def render_page(data: ReportData) -> str:
    plotly_js = plotly.offline.get_plotlyjs()
    report_js = _static("report.js")
    return _environment().get_template("report.html.j2").render(
        o=data.overview,
        ancestry=data.ancestry,
        opened=_steps_to_open(data),
        tree=data.tree,
        failures=data.failures,
        spend=data.spend,
        spend_charted=spend_charted(data.spend),
        grids=data.grids,
        sections=SECTIONS,
        packed=pack(data.candidates),
        figures_json=safe_json(_figures(data)),
        facts_json=safe_json({"maximize": data.overview.maximize}),  # what the page's script needs to sort
        css=_static("report.css"),
        plotly_js=plotly_js,
        report_js=report_js,
        csp=content_security_policy((plotly_js, report_js)),
    )


def _steps_to_open(data: ReportData, biggest: int = 3) -> set[int]:
    """Lineage steps shown with their diff open: the largest improvements, and the winner itself."""
    sign = 1.0 if data.overview.maximize else -1.0
    improving = sorted((s for s in data.ancestry if s.improved and s.delta is not None), key=lambda s: -sign * s.delta)
    return {s.candidate_id for s in improving[:biggest]} | {s.candidate_id for s in data.ancestry[-1:]}


def content_security_policy(scripts: tuple[str, ...]) -> str:
    """Only our inline scripts (by hash) run; nothing is fetched; styles inline (Plotly sets them)."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)
    return (f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; img-src data: blob:; "
            "font-src data:; base-uri 'none'; form-action 'none'")


def _figures(data: ReportData) -> dict[str, dict]:
    figures: dict[str, go.Figure] = {
        "scores": score_figure(data.curve, data.overview),
        "tree": tree_figure(data.tree),
    }
    if data.failures.totals:
        figures["failures"] = failures_figure(data.failures)
    if spend_charted(data.spend):
        figures["spend"] = spend_figure(data.spend)
    if data.grids.islands:
        figures["grid"] = grid_figure(data.grids)
    return {name: _plain(fig.to_plotly_json()) for name, fig in figures.items()}


def _plain(value):
    """Plotly's figure dict as plain JSON values (tuples and NumPy arrays to lists, NaN to null)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _static(name: str) -> str:
    return resources.files("evolve.html_report").joinpath("static", name).read_text(encoding="utf-8")


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("evolve.html_report", "templates"), autoescape=True, undefined=StrictUndefined)
    env.filters.update(num=_num, signed=_signed, money=_money, duration=_duration, count=_count, diff_lines=_diff_lines)
    return env


def _num(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4g}" if abs(value) >= 1e4 else f"{value:.3f}".rstrip("0").rstrip(".")


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "") + _num(value)


def _money(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def _count(value: int) -> str:
    return f"{value:,}"


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _diff_lines(diff: str) -> list[tuple[str, str]]:
    """(css class, line) for a unified diff; the template escapes the line."""
    out = []
    for line in diff.splitlines():
        kind = ("file" if line.startswith(("+++", "---")) else "hunk" if line.startswith("@@")
                else "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx")
        out.append((kind, line))
    return out
