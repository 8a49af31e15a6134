"""Score over iterations: every candidate as a point, and each moment the running best improved."""

from __future__ import annotations

from collections.abc import Sequence

from evolve.html_report.values import BestStep, ScoreCurve, ScorePoint
from evolve.store.records import CandidateRecord


def score_curve(candidates: Sequence[CandidateRecord], maximize: bool) -> ScoreCurve:
    points = tuple(_point(c) for c in candidates)
    last = max((c.iteration for c in candidates), default=0)
    return ScoreCurve(points=points, best_steps=best_steps(candidates, maximize), last_iteration=last)


def best_steps(candidates: Sequence[CandidateRecord], maximize: bool) -> tuple[BestStep, ...]:
    """Valid candidates that beat every earlier valid one (strictly), in iteration order."""
    sign = 1.0 if maximize else -1.0
    steps: list[BestStep] = []
    for c in sorted(candidates, key=lambda r: r.iteration):
        if c.status != "valid" or c.score is None or c.id is None:
            continue
        if not steps or c.score * sign > steps[-1].train * sign:
            steps.append(BestStep(c.id, c.iteration, c.score, c.test_score))
    return tuple(steps)


def _point(c: CandidateRecord) -> ScorePoint:
    assert c.id is not None, "stored candidates have ids"
    score = c.score if c.status == "valid" else None
    return ScorePoint(c.id, c.iteration, c.island, c.status, c.failure_reason, score, c.summary)
