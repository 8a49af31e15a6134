"""The run at a glance: what ran, how far it got, seed vs best vs baselines, time and money."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from evolve.config import RunConfig
from evolve.html_report.values import Baseline, Overview, ScorePair, Spent
from evolve.store.records import CandidateRecord, ProposalRecord, ReferenceRecord, RunInfo


@dataclass(frozen=True)
class Objective:
    """What ranks candidates, and which stored stages are train and held-out test."""

    metric: str
    maximize: bool
    train_stage: str
    test_stage: str | None


def overview(
    run: RunInfo,
    config: RunConfig,
    objective: Objective,
    candidates: Sequence[CandidateRecord],
    calls: Sequence[ProposalRecord],
    references: Sequence[ReferenceRecord],
    notes: tuple[str, ...],
    built_at: datetime,
) -> Overview:
    by_id = {c.id: c for c in candidates}
    seed = next((c for c in candidates if c.iteration == 0), None)
    best = by_id.get(run.best_candidate_id)
    counts = Counter(c.status for c in candidates)
    return Overview(
        run_name=run.name,
        problem=run.problem_name,
        problem_path=run.problem_path,
        state=run.state,
        iterations_done=max(0, run.iterations_done),
        iterations_requested=config.iterations,
        proposers=_proposers(calls, config),
        sandbox=config.sandbox,
        metric=objective.metric,
        maximize=objective.maximize,
        train_stage=objective.train_stage,
        test_stage=objective.test_stage,
        seed=ScorePair(seed.score, seed.test_score) if seed else ScorePair(None, None),
        best=ScorePair(best.score, best.test_score) if best else ScorePair(None, None),
        best_candidate_id=best.id if best else None,
        best_iteration=best.iteration if best else None,
        baselines=_baselines(references, objective),
        spent=_spent(run, candidates, calls),
        counts=tuple(counts.most_common()),
        notes=notes,
        created_at=run.created_at,
        updated_at=run.updated_at,
        built_at=built_at,
    )


def _proposers(calls: Sequence[ProposalRecord], config: RunConfig) -> tuple[str, ...]:
    """The models that were called, else the ones configured (a run that has not called yet)."""
    seen = sorted({c.model or c.proposer for c in calls})
    if seen:
        return tuple(seen)
    if config.llm is not None:
        return tuple(spec.name for spec in config.llm.models) or ("replay",)
    return ("offline mutator",)


def _baselines(references: Sequence[ReferenceRecord], objective: Objective) -> tuple[Baseline, ...]:
    scores: dict[str, dict[str, float | None]] = {}
    for ref in references:
        scores.setdefault(ref.name, {})[ref.stage] = ref.score
    return tuple(
        Baseline(name, ScorePair(by_stage.get(objective.train_stage), by_stage.get(objective.test_stage or "")))
        for name, by_stage in scores.items()
    )


def _spent(run: RunInfo, candidates: Sequence[CandidateRecord], calls: Sequence[ProposalRecord]) -> Spent:
    return Spent(
        wall_seconds=max(0.0, (run.updated_at - run.created_at).total_seconds()),
        evaluation_seconds=sum(e.seconds for c in candidates for e in c.evaluations),
        proposer_seconds=sum(c.latency_s for c in calls),
        calls=len(calls),
        tokens_in=sum(c.tokens_in for c in calls),
        tokens_out=sum(c.tokens_out for c in calls),
        dollars=sum(c.cost_usd for c in calls),
        unpriced_calls=sum(1 for c in calls if not c.priced),
    )
