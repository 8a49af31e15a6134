"""Plotly figures from report values. Text that may come from a candidate or an LLM is escaped.

Plotly reads a small subset of HTML in labels (<b>, <br>, <a href>), so every label built from
stored text goes through `label()`; the figures carry candidate ids as `customdata` for clicks.
"""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from evolve.html_report.values import FailureTimeline, Grids, LineageTree, Overview, ScoreCurve, Spend

STATUS_COLORS = {"valid": "#1f77b4", "invalid": "#ff7f0e", "failed": "#d62728", "rejected": "#7f7f7f", "duplicate": "#bcbd22", "gated": "#9467bd"}
ISLAND_COLORS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#ff7f0e", "#7f7f7f")
REASON_COLORS = ("#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#1f77b4", "#2ca02c")
TEMPLATE = "plotly_white"


def label(text: str | None, limit: int = 120) -> str:
    """Stored text made safe for a plotly label: cut short and HTML-escaped."""
    text = " ".join((text or "").split())
    return html.escape(text if len(text) <= limit else text[: limit - 1] + "…")


def fmt(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4g}"


def score_figure(curve: ScoreCurve, overview: Overview) -> go.Figure:
    """Scored candidates by island, the running best, held-out test of each new best, baselines;
    below, a strip of the candidates that got no score, by status."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=(0.82, 0.18), vertical_spacing=0.04)
    train, test = label(overview.train_stage, 30), label(overview.test_stage or "test", 30)
    scored = [p for p in curve.points if p.score is not None]
    for island in sorted({p.island for p in scored}):
        pts = [p for p in scored if p.island == island]
        fig.add_trace(_points(pts, f"island {island}", ISLAND_COLORS[island % len(ISLAND_COLORS)], "circle",
                              hover=f"#%{{x}} island {island}: %{{y:.4g}}<extra></extra>"), 1, 1)
    steps = curve.best_steps
    if steps:
        xs = [s.iteration for s in steps] + [curve.last_iteration]
        ys = [s.train for s in steps] + [steps[-1].train]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"shape": "hv", "color": "#111", "width": 2},
                                 name=f"running best ({train})", hoverinfo="skip"), 1, 1)
        tested = [s for s in steps if s.test is not None]
        fig.add_trace(go.Scatter(
            x=[s.iteration for s in tested], y=[s.test for s in tested], customdata=[s.candidate_id for s in tested],
            mode="markers+lines", line={"shape": "hv", "dash": "dot", "color": "#e45756"},
            marker={"symbol": "diamond", "size": 9, "color": "#e45756"},
            name=f"held-out {test} of each new best",
            text=[f"#{s.iteration}: {train} {fmt(s.train)}, {test} {fmt(s.test)}" for s in tested],
            hoverinfo="text"), 1, 1)
    for k, b in enumerate(overview.baselines):
        if b.scores.train is not None:
            fig.add_trace(go.Scatter(
                x=[0, curve.last_iteration], y=[b.scores.train] * 2, mode="lines",
                line={"dash": "dash", "width": 1, "color": ISLAND_COLORS[(k + 3) % len(ISLAND_COLORS)]},
                name=f"baseline {label(b.name, 40)} ({fmt(b.scores.train)})", hoverinfo="name"), 1, 1)
    unscored = [p for p in curve.points if p.score is None]
    for status in sorted({p.status for p in unscored}):
        pts = [p for p in unscored if p.status == status]
        trace = _points(pts, label(status, 30), STATUS_COLORS.get(status, "#444"), "x", y=[label(status, 30)] * len(pts),
                        hover="#%{x} %{text}<extra></extra>", text=[label(p.reason or p.status, 40) for p in pts])
        fig.add_trace(trace, 2, 1)
    fig.update_yaxes(title_text=label(overview.metric, 40), row=1, col=1)
    fig.update_yaxes(type="category", row=2, col=1, title_text="no score")
    fig.update_xaxes(title_text="iteration", row=2, col=1)
    fig.update_layout(template=TEMPLATE, height=560, margin={"t": 30, "r": 10}, legend={"orientation": "h", "y": -0.18})
    return fig


def _points(points, name: str, color: str, symbol: str, hover: str, y=None, text=None) -> go.Scatter:
    """One marker per candidate; the hover template is per trace (per-point text would cost 100 B each)."""
    return go.Scatter(
        x=[p.iteration for p in points],
        y=y if y is not None else [p.score for p in points],
        customdata=[p.candidate_id for p in points],
        text=text, hovertemplate=hover, mode="markers", name=name,
        marker={"color": color, "symbol": symbol, "size": 6, "opacity": 0.75},
    )


def tree_figure(tree: LineageTree) -> go.Figure:
    """Edges as elbows from parent to child; valid nodes coloured by score; the winner's line on top."""
    lane = {n.candidate_id: n for n in tree.nodes}
    ex, ey, px, py = [], [], [], []
    for n in tree.nodes:
        parent = lane.get(n.parent_id) if n.parent_id is not None else None
        if parent is None:
            continue
        xs, ys = (ex, ey) if not n.on_best_path else (px, py)
        xs.extend([parent.iteration, parent.iteration, n.iteration, None])
        ys.extend([parent.lane, n.lane, n.lane, None])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line={"color": "#c8c8c8", "width": 1}, hoverinfo="skip", name="parent → child"))
    fig.add_trace(go.Scatter(x=px, y=py, mode="lines", line={"color": "#e45756", "width": 3}, hoverinfo="skip", name="winner's lineage"))
    valid = [n for n in tree.nodes if n.score is not None and n.status == "valid"]
    other = [n for n in tree.nodes if not (n.score is not None and n.status == "valid")]
    fig.add_trace(go.Scatter(
        x=[n.iteration for n in valid], y=[n.lane for n in valid], customdata=[n.candidate_id for n in valid], mode="markers",
        marker={"color": [n.score for n in valid], "colorscale": "Viridis", "size": 8, "showscale": True,
                "colorbar": {"title": {"text": "score"}, "thickness": 12},
                "line": {"color": ["#e45756" if n.on_best_path else "#ffffff" for n in valid], "width": 1.5}},
        hovertemplate="#%{x}: %{marker.color:.4g}<extra></extra>", name="valid"))
    fig.add_trace(go.Scatter(
        x=[n.iteration for n in other], y=[n.lane for n in other], customdata=[n.candidate_id for n in other], mode="markers",
        marker={"color": [STATUS_COLORS.get(n.status, "#444") for n in other], "symbol": "x", "size": 6},
        text=[label(n.status, 20) for n in other], hovertemplate="#%{x}: %{text}<extra></extra>", name="no score"))
    lanes = max((n.lane for n in tree.nodes), default=0)
    fig.update_yaxes(autorange="reversed", showticklabels=False, title_text="lineage (one lane per branch)")
    fig.update_xaxes(title_text="iteration")
    fig.update_layout(template=TEMPLATE, height=int(min(900, max(320, 80 + 12 * lanes))), margin={"t": 20, "r": 10},
                      legend={"orientation": "h", "y": -0.12})
    return fig


def failures_figure(failures: FailureTimeline) -> go.Figure:
    fig = go.Figure()
    w = failures.bin_width
    names = [f"{s}" if w == 1 else f"{s}–{s + w - 1}" for s in failures.bin_starts]
    for k, series in enumerate(failures.series):
        fig.add_trace(go.Bar(x=names, y=list(series.counts), name=label(series.reason, 40),
                             marker_color=REASON_COLORS[k % len(REASON_COLORS)]))
    peak = max((sum(c) for c in zip(*(s.counts for s in failures.series))), default=0)
    fig.update_layout(template=TEMPLATE, barmode="stack", height=340, margin={"t": 20, "r": 10},
                      xaxis={"title": {"text": "iterations"}, "type": "category"},
                      yaxis={"title": {"text": "candidates"}, "dtick": 1 if peak <= 10 else None})
    return fig


def spend_charted(spend: Spend) -> bool:
    """Worth a chart: some model used tokens or dollars (the offline mutator uses neither)."""
    return any(m.dollars > 0 or m.tokens_in + m.tokens_out > 0 for m in spend.models)


def spend_figure(spend: Spend) -> go.Figure:
    """Cumulative dollars (when any were spent), tokens and calls per model, by iteration."""
    panels = [(title, pick) for title, pick, used in (
        ("dollars (cumulative)", lambda p: p.dollars, any(m.dollars > 0 for m in spend.models)),
        ("tokens in + out (cumulative)", lambda p: p.tokens, True),
        ("calls (cumulative)", lambda p: p.calls, True)) if used]
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, subplot_titles=[t for t, _ in panels], vertical_spacing=0.08)
    for k, series in enumerate(spend.series):
        color = ISLAND_COLORS[k % len(ISLAND_COLORS)]
        xs = [p.iteration for p in series.points]
        for row, (_, pick) in enumerate(panels, start=1):
            fig.add_trace(go.Scatter(x=xs, y=[pick(p) for p in series.points], mode="lines", line={"shape": "hv", "color": color},
                                     name=label(series.model, 60), legendgroup=str(k), showlegend=row == 1), row, 1)
    fig.update_xaxes(title_text="iteration", row=len(panels), col=1)
    fig.update_layout(template=TEMPLATE, height=170 * len(panels) + 60, margin={"t": 30, "r": 10}, legend={"orientation": "h", "y": -0.15})
    return fig


def grid_figure(grids: Grids) -> go.Figure:
    """One heat map per island, one colour scale for all."""
    islands = grids.islands
    cols = min(len(islands), 4)
    rows = math.ceil(len(islands) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"island {g.island}" for g in islands],
                        horizontal_spacing=0.06, vertical_spacing=0.12)
    values = [v for g in islands for row in g.scores for v in row if v is not None]
    zmin, zmax = (min(values), max(values)) if values else (0.0, 1.0)
    for k, g in enumerate(islands):
        xs = [f"{e:.4g}" for e in g.x.edges()[:-1]]
        ys = [f"{e:.4g}" for e in g.y.edges()[:-1]]
        fig.add_trace(go.Heatmap(
            z=[list(r) for r in g.scores], x=xs, y=ys, customdata=[list(r) for r in g.candidate_ids],
            zmin=zmin, zmax=zmax, colorscale="Viridis", showscale=k == 0, hoverongaps=False,
            colorbar={"title": {"text": "score"}, "thickness": 12},
            hovertemplate=f"{label(g.x.metric, 30)} ≥ %{{x}}<br>{label(g.y.metric, 30)} ≥ %{{y}}<br>score %{{z:.4g}}"
                          "<br>candidate %{customdata}<extra></extra>"), k // cols + 1, k % cols + 1)
        fig.update_xaxes(title_text=label(g.x.metric, 30), type="category", row=k // cols + 1, col=k % cols + 1)
        fig.update_yaxes(title_text=label(g.y.metric, 30), type="category", row=k // cols + 1, col=k % cols + 1)
    fig.update_layout(template=TEMPLATE, height=330 * rows + 40, margin={"t": 40, "r": 10})
    return fig
