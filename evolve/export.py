"""Export a run's best program: a patch against the seed, the program file, and evidence JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from evolve.edits.corpus import APPLIED, AnswerRecord, write_records
from evolve.errors import UserError
from evolve.patching import unified_diff
from evolve.report import run_summary
from evolve.store import RunInfo, Store
from evolve.store.records import StoredAnswer


@dataclass(frozen=True)
class ExportPaths:
    patch: Path
    program: Path
    metadata: Path
    apply_in: Path  # the folder to run `git apply` / `patch -p1` in


def apply_root(folder: Path) -> Path:
    """The enclosing git work tree, else the folder itself.

    `git apply` run inside a sub-folder of a repository silently skips paths outside it, so a
    patch for a file in a repository must name the file from the repository's top.
    """
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder


def export_best(store: Store, run: RunInfo, seed_path: Path, out_dir: Path) -> ExportPaths:
    """Write best.patch (for `git apply` / `patch -p1` in `apply_in`), the best program, and JSON."""
    run = store.run(run.name)
    base = apply_root(seed_path.parent)
    seed_relpath = seed_path.relative_to(base).as_posix()
    if run.best_candidate_id is None:
        raise UserError(f"run {run.name!r} has no valid candidate yet")
    best = store.candidate(run.best_candidate_id)
    if best.iteration == 0:
        raise UserError(f"run {run.name!r} found nothing better than its seed: the best is the seed, so there is nothing to apply")
    chain = store.lineage(best.id)
    seed = chain[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = ExportPaths(out_dir / "best.patch", out_dir / f"best_{seed_path.name}", out_dir / "best.json", base)
    paths.patch.write_text(unified_diff(seed.code, best.code, seed_relpath), encoding="utf-8")
    paths.program.write_text(best.code, encoding="utf-8")
    metadata = {
        "run": run_summary(store, run),
        "best": {
            "candidate_id": best.id,
            "iteration": best.iteration,
            "island": best.island,
            "generation": best.generation,
            "score": best.score,
            "test_score": best.test_score,
            "metrics": {e.stage: e.metrics for e in best.evaluations},
            "valid": {e.stage: e.valid for e in best.evaluations},
        },
        "seed": {"score": seed.score, "test_score": seed.test_score, "path": seed_relpath},
        "apply_in": str(base),
        "lineage": [
            {"candidate_id": c.id, "iteration": c.iteration, "island": c.island, "score": c.score, "summary": c.summary}
            for c in chain
        ],
    }
    paths.metadata.write_text(json.dumps(metadata, indent=2, default=str) + "\n", encoding="utf-8")
    return paths


def export_answers(store: Store, run: RunInfo, path: Path) -> tuple[int, int]:
    """Every stored LLM answer of the run with the parent it was written for, as answer records
    (JSON lines) for `benchmarks/answer_acceptance.py`. Returns (written, skipped: parent unknown)."""
    stored = store.answers(run.id)
    records = [
        AnswerRecord(
            parent=a.parent_code, answer=a.response, operator=a.operator, model=a.model, prompt_variant=a.prompt_variant,
            run=run.name, iteration=a.iteration, stored_outcome=_outcome(a),
        )
        for a in stored
        if a.parent_code is not None
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_records(path, records), len(stored) - len(records)


def _outcome(answer: StoredAnswer) -> str:
    if answer.status is None:
        return ""  # its iteration was cancelled by a stop: never checked
    return answer.failure_reason if answer.status == "rejected" and answer.failure_reason else APPLIED
