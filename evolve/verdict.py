"""Turn a sandbox Outcome into a candidate's status, score and stored evaluations.

Pure: the cascade stages must all finish and be valid for a candidate to count. A candidate that a
problem's gate stopped ("train only if smoke scores at least X") is `gated`: it keeps the score of
the last stage it ran, but that is another stage's score, so it is never compared with fully
evaluated candidates (not the best, not a parent, not in the grid). The held-out
test stage runs for every candidate that could become the best; when it ran, it must pass too:
a candidate whose test stage fails, times out, crashes or comes back invalid is stored with that
reason and is never valid, so it can never be the best or be exported as one.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from evolve.problem import Problem
from evolve.store.records import EvaluationRecord
from sandboxes.base import Outcome


@dataclass(frozen=True)
class Verdict:
    status: str  # valid | invalid | failed | gated
    score: float | None
    test_score: float | None
    metrics: dict[str, float]
    feedback: str
    failure_reason: str | None
    failure_detail: str
    evaluations: tuple[EvaluationRecord, ...]


def judge(outcome: Outcome, problem: Problem) -> Verdict:
    outcome = _within_ranges(outcome, problem)
    evaluations = tuple(_record(s) for s in outcome.stages)
    metric = problem.objective.metric
    last_metrics: dict[str, float] = {}
    feedback = ""
    for stage in problem.evaluator.stages:
        so = outcome.stage(stage)
        if so is None and outcome.gated == stage:
            return _gated(stage, problem, last_metrics, feedback, evaluations)
        if so is None:
            reason = outcome.failure or "invalid_output"
            detail = outcome.detail or f"no result for stage {stage!r}"
            return _failed("failed", reason, f"{stage}: {detail}", evaluations, last_metrics, outcome.stderr_tail)
        if so.error or so.result is None:
            return _failed("failed", so.error or "invalid_output", f"{stage}: {so.detail}", evaluations, last_metrics, "")
        if not so.result.valid:
            detail = f"{stage}: {so.result.reason or 'invalid output'}"
            return _failed("invalid", "invalid", detail, evaluations, dict(so.result.metrics), so.result.feedback)
        last_metrics, feedback = dict(so.result.metrics), so.result.feedback
    if metric not in last_metrics:
        detail = f"{problem.train_stage}: objective metric {metric!r} missing from the evaluator's result"
        return _failed("failed", "invalid_output", detail, evaluations, last_metrics, feedback)
    test = problem.evaluator.test_stage
    so = outcome.stage(test) if test else None
    if so is None:  # the gate kept it shut: not a candidate for the best, so no held-out score
        return Verdict("valid", last_metrics[metric], None, last_metrics, feedback, None, "", evaluations)
    if so.error or so.result is None:
        detail = f"{test} (held out): {so.detail or 'no result'}"
        return _failed("failed", so.error or "invalid_output", detail, evaluations, last_metrics, feedback)
    if not so.result.valid:
        detail = f"{test} (held out): {so.result.reason or 'invalid output'}"
        return _failed("invalid", "invalid", detail, evaluations, last_metrics, feedback)
    test_score = so.result.metrics.get(metric)
    if test_score is None:
        detail = f"{test} (held out): objective metric {metric!r} missing from the evaluator's result"
        return _failed("failed", "invalid_output", detail, evaluations, last_metrics, feedback)
    return Verdict("valid", last_metrics[metric], test_score, last_metrics, feedback, None, "", evaluations)


def _within_ranges(outcome: Outcome, problem: Problem) -> Outcome:
    """The worker already checks declared ranges; checked again here, where the score is stored, so
    that no path that bypassed the worker could plant an out-of-range or non-finite score."""
    ranges = {name: (low, high) for name, low, high in problem.ranges}
    stages = []
    for so in outcome.stages:
        if so.result is not None:
            bad = next(((k, v) for k, v in so.result.metrics.items()
                        if not math.isfinite(v) or (k in ranges and not ranges[k][0] <= v <= ranges[k][1])), None)  # fmt: skip
            if bad is not None:
                detail = f"metric {bad[0]!r} = {bad[1]!r} is outside its declared range or not finite"
                stages.append(dataclasses.replace(so, result=None, error="invalid_output", detail=detail))
                return dataclasses.replace(outcome, stages=tuple(stages), failure="invalid_output", detail=detail)
        stages.append(so)
    return outcome


def _gated(stage: str, problem: Problem, metrics: dict[str, float], feedback: str, evaluations) -> Verdict:
    metric = problem.objective.metric
    after, threshold = next((a, t) for s, a, t in problem.stage_gates if s == stage)
    side = "below" if problem.objective.maximize else "above"
    detail = f"{stage} not run: {after} {metric} {metrics.get(metric, float('nan')):g} is {side} its gate {threshold:g}"
    feedback = f"{feedback}\n{detail}".strip()
    return Verdict("gated", metrics.get(metric), None, metrics, feedback[-2000:], "gated", detail, evaluations)


def _failed(status, reason, detail, evaluations, metrics, feedback) -> Verdict:
    feedback = feedback or detail
    return Verdict(status, None, None, metrics, feedback[-2000:], reason, detail[-4000:], evaluations)


def _record(so) -> EvaluationRecord:
    if so.result is None:
        return EvaluationRecord(so.stage, {}, False, None, "", so.error, so.seconds)
    r = so.result
    return EvaluationRecord(so.stage, dict(r.metrics), r.valid, r.reason, r.feedback, so.error, so.seconds)
