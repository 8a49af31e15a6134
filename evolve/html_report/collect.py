"""Read one run from the store (any SQLAlchemy URL, finished or still running) into ReportData."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from evolve.config import RunConfig
from evolve.errors import UserError
from evolve.html_report.ancestry import ancestry_steps, chain_to
from evolve.html_report.candidates import candidate_details
from evolve.html_report.curves import score_curve
from evolve.html_report.failures import failure_timeline
from evolve.html_report.grid import island_grids
from evolve.html_report.overview import Objective, overview
from evolve.html_report.spend import spend
from evolve.html_report.tree import lineage_tree
from evolve.html_report.values import ReportData
from evolve.problem import Problem, load_problem
from evolve.store import RunInfo, Store


def collect(store: Store, run: RunInfo, now: datetime | None = None) -> ReportData:
    """Everything the page shows, from one pass over the store (candidates first, then calls)."""
    run = store.run(run.name)
    config = RunConfig.model_validate(run.config)
    candidates = store.candidates(run.id)
    committed = {c.id for c in candidates}
    # a running run may commit between the two reads: calls for candidates not read yet count as in flight
    calls = [(cid if cid in committed else None, call) for cid, call in store.proposals_with_candidates(run.id)]
    call_of = {cid: call for cid, call in calls if cid is not None}
    problem, notes = _problem(run)
    objective = _objective(problem, candidates, run)
    by_id = {c.id: c for c in candidates if c.id is not None}
    chain = chain_to(run.best_candidate_id, by_id)
    curve = score_curve(candidates, objective.maximize)
    built_at = now or datetime.now(timezone.utc)
    return ReportData(
        overview=overview(run, config, objective, candidates, [c for _, c in calls], store.references(run.id), notes, built_at),
        curve=curve,
        ancestry=ancestry_steps(chain, call_of, objective.maximize),
        tree=lineage_tree(candidates, [c.id for c in chain if c.id is not None], objective.maximize),
        failures=failure_timeline(candidates),
        spend=spend(calls, curve.best_steps),
        grids=island_grids(candidates, problem, config),
        candidates=candidate_details(candidates, call_of),
    )


def _problem(run: RunInfo) -> tuple[Problem | None, tuple[str, ...]]:
    """The run's problem folder when it can still be read (it defines direction, stages and grid axes)."""
    try:
        problem = load_problem(Path(run.problem_path))
    except (UserError, OSError) as exc:
        return None, (f"problem folder unreadable ({exc}); objective direction inferred from the stored best",)
    if problem.version() != run.problem_version:
        return problem, (f"files in {problem.root} changed since the run started; the grid uses the current feature axes",)
    return problem, ()


def _objective(problem: Problem | None, candidates, run: RunInfo) -> Objective:
    if problem is not None:
        o = problem.objective
        return Objective(o.metric, o.maximize, problem.train_stage, problem.evaluator.test_stage)
    seed = next((c for c in candidates if c.iteration == 0), None)
    best = next((c for c in candidates if c.id == run.best_candidate_id), None)
    maximize = not (seed and best and seed.score is not None and best.score is not None and best.score < seed.score)
    return Objective("score", maximize, "train", "test")
