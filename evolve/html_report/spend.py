"""What the proposers cost and bought: calls, tokens, dollars and new bests, per model and over time."""

from __future__ import annotations

from collections.abc import Sequence

from evolve.html_report.values import BestStep, ModelSeries, ModelSpend, Spend, SpendPoint
from evolve.store.records import ProposalRecord

MAX_POINTS = 500  # per model and chart: a cumulative curve needs no more to look right


def model_name(call: ProposalRecord) -> str:
    return call.model or call.proposer


def spend(calls: Sequence[tuple[int | None, ProposalRecord]], best_steps: Sequence[BestStep]) -> Spend:
    """`calls` are (candidate id or None, call) in iteration order, uncommitted calls included."""
    new_best_ids = {s.candidate_id for s in best_steps[1:]}  # the seed is not bought by any call
    by_model: dict[str, list[tuple[int | None, ProposalRecord]]] = {}
    for cid, call in calls:
        by_model.setdefault(model_name(call), []).append((cid, call))
    models = tuple(_model_spend(name, items, new_best_ids) for name, items in sorted(by_model.items()))
    series = tuple(ModelSeries(name, _cumulative(items)) for name, items in sorted(by_model.items()))
    return Spend(models=models, series=series)


def _model_spend(name: str, items: list[tuple[int | None, ProposalRecord]], new_best_ids: set[int]) -> ModelSpend:
    calls = [call for _, call in items]
    return ModelSpend(
        model=name,
        proposer=calls[0].proposer,
        calls=len(calls),
        uncommitted=sum(1 for cid, _ in items if cid is None),
        errors=sum(1 for call in calls if call.error),
        tokens_in=sum(call.tokens_in for call in calls),
        tokens_out=sum(call.tokens_out for call in calls),
        dollars=sum(call.cost_usd for call in calls),
        latency_seconds=sum(call.latency_s for call in calls),
        unpriced_calls=sum(1 for call in calls if not call.priced),
        new_bests=sum(1 for cid, _ in items if cid in new_best_ids),
    )


def _cumulative(items: list[tuple[int | None, ProposalRecord]], max_points: int = MAX_POINTS) -> tuple[SpendPoint, ...]:
    """Running totals after each call, thinned to about `max_points` evenly spaced ones (the last kept)."""
    points, calls, tokens, dollars = [], 0, 0, 0.0
    for _, call in items:
        calls, tokens, dollars = calls + 1, tokens + call.tokens_in + call.tokens_out, dollars + call.cost_usd
        points.append(SpendPoint(call.iteration or 0, calls, tokens, dollars))
    kept = points[:: max(1, len(points) // max_points)]
    if kept and kept[-1] is not points[-1]:
        kept.append(points[-1])
    return tuple(kept)
