"""Plain-data summaries of a run for `evolve status`, `evolve best` and --json output."""

from __future__ import annotations

from evolve.candidates import top_failures
from evolve.store import RunInfo, Store


def run_summary(store: Store, run: RunInfo) -> dict:
    """Everything `evolve status --json` promises: ids, state, progress, scores, failures."""
    run = store.run(run.name)
    by_status, by_reason = store.status_counts(run.id)
    seed = store.candidate_at(run.id, 0)
    best = store.candidate(run.best_candidate_id) if run.best_candidate_id else None
    totals = store.proposal_totals(run.id)
    baselines: dict[str, dict[str, float | None]] = {}
    for ref in store.references(run.id):
        baselines.setdefault(ref.name, {})[ref.stage] = ref.score
    improvements = _improvements(store, run, seed.score if seed else None, best.score if best else None)
    variants = _prompt_variants(store, run)
    return {
        "run_id": run.id,
        "name": run.name,
        "problem": run.problem_name,
        "problem_path": run.problem_path,
        "state": run.state,
        "iterations_done": max(0, run.iterations_done),
        "iterations_requested": run.config.get("iterations"),
        "seed_score": seed.score if seed else None,
        "seed_test_score": seed.test_score if seed else None,
        "best_score": best.score if best else None,
        "best_candidate_id": best.id if best else None,
        "best_iteration": best.iteration if best else None,
        "best_test_score": best.test_score if best else None,
        "baselines": baselines,
        "candidates_by_status": dict(by_status),
        "failures_by_reason": dict(by_reason),
        "top_failures": [f.to_json() for f in top_failures(store, run)],
        "proposer_calls": totals["calls"],
        "tokens_in": totals["tokens_in"],
        "tokens_out": totals["tokens_out"],
        "cost_usd": round(totals["cost_usd"], 6),
        "improvements": improvements,
        "cost_per_improvement": round(totals["cost_usd"] / improvements, 6) if improvements else None,
        "models": store.model_usage(run.id),
        **({"prompt_variants": variants} if variants else {}),
        "created_at": run.created_at.isoformat(),
        "updated_at": run.updated_at.isoformat(),
    }


def _prompt_variants(store: Store, run: RunInfo) -> list[dict]:
    """With prompt evolution: each system-prompt variant and its record of improvements."""
    return [
        {
            "name": v.variant.name,
            "parent": v.variant.parent,
            "written_at": v.variant.iteration,
            "calls": v.calls,
            "valid": v.valid,
            "improved": v.improved,
            "best_improvement": v.best_improvement,
            "guidance": v.variant.text,
        }
        for v in store.prompt_variant_stats(run.id)
    ]



def _improvements(store: Store, run: RunInfo, seed: float | None, best: float | None) -> int:
    """How many times the best moved past the seed's line; the direction shows in seed vs best."""
    if seed is None or best is None or best == seed:
        return 0
    sign = 1.0 if best > seed else -1.0
    count, record = 0, seed * sign
    for score in store.valid_scores(run.id):
        if score * sign > record:
            count, record = count + 1, score * sign
    return count
