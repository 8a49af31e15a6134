"""Score any program file on every stage of a problem (`evolve eval`), e.g. a baseline."""

from __future__ import annotations

import asyncio

from evolve.problem import Problem
from evolve.scoring import Scorer


async def evaluate_program(problem: Problem, code: str, scorer: Scorer) -> dict:
    """Each stage runs in its own sandbox job so a failure on one still reports the others."""
    stages = problem.all_stages

    async def one(stage: str):
        outcome = await scorer.run(scorer.job(code, None, (stage,)))
        so = outcome.stage(stage)
        if so is None or so.result is None:
            error = (so.error if so else None) or outcome.failure or "invalid_output"
            detail = (so.detail if so else "") or outcome.detail or outcome.stderr_tail[-500:]
            return stage, {"score": None, "valid": False, "error": error, "reason": detail, "metrics": {}, "seconds": outcome.wall_seconds}
        r = so.result
        return stage, {
            "score": r.metrics.get(problem.objective.metric),
            "valid": r.valid,
            "error": None,
            "reason": r.reason,
            "metrics": r.metrics,
            "seconds": so.seconds,
            "feedback": r.feedback,
        }

    results = dict(await asyncio.gather(*(one(s) for s in stages)))
    train = results[problem.train_stage]
    return {
        "problem": problem.name,
        "objective": problem.objective.metric,
        "direction": problem.objective.direction,
        "score": train["score"],
        "valid": all(r["valid"] for r in results.values()),
        "stages": results,
    }
