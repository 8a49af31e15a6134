"""Store round trip on a real SQLite file: runs, lineage, evaluations, resume state."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest

from evolve.errors import RunNotFound, UserError
from evolve.store import Store, default_db_url
from evolve.store.records import CandidateRecord, EvaluationRecord, PromptVariantRecord, ProposalRecord, ReferenceRecord


def _candidate(iteration: int, parent_id=None, status="valid", score=1.0) -> CandidateRecord:
    return CandidateRecord(
        iteration=iteration,
        island=iteration % 2,
        generation=iteration,
        parent_id=parent_id,
        code=f"x = {iteration}\n",
        code_hash=f"h{iteration}",
        norm_hash=f"n{iteration}",
        status=status,
        score=score if status == "valid" else None,
        failure_reason=None if status == "valid" else "timeout",
        features={"code_size": 5.0},
        evaluations=(EvaluationRecord("smoke", {"score": score}, True, None, "fine", None, 0.25),),
    )


def test_round_trip_lineage_and_state(tmp_path):
    url = default_db_url(tmp_path)
    store = Store(url)
    run = store.create_run("r1", "spot", "/p", "v1", {"iterations": 3, "seed": 7})
    seed = store.commit_iteration(run.id, _candidate(0), None, new_best=True)
    child = store.commit_iteration(
        run.id, _candidate(1, parent_id=seed.id, score=2.0), ProposalRecord("offline", prompt="p", response="r"), new_best=True
    )
    store.commit_iteration(run.id, _candidate(2, parent_id=child.id, status="failed"), ProposalRecord("offline"), False)
    store.save_references(run.id, [ReferenceRecord("greedy", "train", 0.5, True, {"score": 0.5})])
    store.set_state(run.id, "stopped")
    store.close()

    reopened = Store(url)
    info = reopened.run("r1")
    assert info.state == "stopped"
    assert info.iterations_done == 2
    assert info.best_candidate_id == child.id
    assert info.config == {"iterations": 3, "seed": 7}
    records = reopened.candidates(info.id)
    assert [c.iteration for c in records] == [0, 1, 2]
    assert records[1].parent_id == records[0].id
    assert records[0].evaluations[0].feedback == "fine"
    assert records[2].status == "failed" and records[2].failure_reason == "timeout"
    assert [c.iteration for c in reopened.lineage(child.id)] == [0, 1]
    by_status, by_reason = reopened.status_counts(info.id)
    assert by_status == {"valid": 2, "failed": 1}
    assert by_reason == {"timeout": 1}
    assert reopened.references(info.id)[0].score == 0.5
    assert len(reopened.proposals(info.id)) == 2


def test_sqlite_file_uses_wal(tmp_path):
    store = Store(default_db_url(tmp_path))
    store.create_run("r", "p", "/p", "v", {})
    store.close()
    mode = sqlite3.connect(tmp_path / "evolve.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_iteration_is_atomic(tmp_path):
    """A failing commit (duplicate iteration) leaves neither candidate nor proposal nor cursor change."""
    store = Store(default_db_url(tmp_path))
    run = store.create_run("r", "p", "/p", "v", {})
    store.commit_iteration(run.id, _candidate(0), None, True)
    with pytest.raises(Exception):
        store.commit_iteration(run.id, _candidate(0), ProposalRecord("offline"), True)
    assert len(store.candidates(run.id)) == 1
    assert store.proposals(run.id) == []
    assert store.run("r").iterations_done == 0


def test_unknown_run_and_duplicate_name(tmp_path):
    store = Store(default_db_url(tmp_path))
    store.create_run("r", "p", "/p", "v", {})
    with pytest.raises(RunNotFound):
        store.run("nope")
    with pytest.raises(UserError):
        store.create_run("r", "p", "/p", "v", {})


def test_migrations_are_recorded_once(tmp_path):
    url = default_db_url(tmp_path)
    Store(url).close()
    Store(url).close()
    rows = sqlite3.connect(tmp_path / "evolve.db").execute("SELECT name FROM schema_migrations").fetchall()
    assert rows == [("0001_initial",), ("0002_llm_call_details",), ("0003_prompt_evolution",), ("0004_commit_order",),
                    ("0005_reporting_indexes",)]


def test_a_store_from_before_commit_order_gains_positions_in_iteration_order(tmp_path):
    url = default_db_url(tmp_path)
    store = Store(url)
    run = store.create_run("r", "p", "/p", "v", {})
    seed = store.commit_iteration(run.id, _candidate(0), None, True)
    store.commit_iteration(run.id, _candidate(1, parent_id=seed.id), ProposalRecord("offline"), False)
    store.close()
    db = sqlite3.connect(tmp_path / "evolve.db")
    _forget_reporting_indexes(db)
    db.execute("DROP INDEX ix_candidates_position")
    for column in ("position", "seen_upto"):
        db.execute(f"ALTER TABLE candidates DROP COLUMN {column}")
    db.execute("DELETE FROM schema_migrations WHERE name = '0004_commit_order'")
    db.commit()
    db.close()
    store = Store(url)
    assert [(e.iteration, e.position) for e in store.lineage_entries(run.id)] == [(0, 0), (1, 1)]
    assert store.seen_before(run.id, _candidate(1).code_hash, "x", upto=1) == "duplicate"
    assert store.seen_before(run.id, _candidate(1).code_hash, "x", upto=0) is None  # not in the snapshot before it
    indexes = {row[0] for row in sqlite3.connect(tmp_path / "evolve.db").execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"ix_candidates_position", "ix_candidates_proposal", "ix_proposals_usage"} <= indexes


def _forget_reporting_indexes(db: sqlite3.Connection) -> None:
    """As a store made before migration 0005 (whose indexes name columns the older tests drop)."""
    for index in ("ix_candidates_proposal", "ix_candidates_status", "ix_candidates_code", "ix_candidates_norm", "ix_proposals_usage"):
        db.execute(f"DROP INDEX {index}")
    db.execute("DELETE FROM schema_migrations WHERE name = '0005_reporting_indexes'")


def test_a_store_from_before_llm_details_gains_the_columns(tmp_path):
    url = default_db_url(tmp_path)
    Store(url).close()
    db = sqlite3.connect(tmp_path / "evolve.db")
    _forget_reporting_indexes(db)
    for column in ("operator", "attempts", "priced"):
        db.execute(f"ALTER TABLE proposals DROP COLUMN {column}")
    db.execute("DELETE FROM schema_migrations WHERE name = '0002_llm_call_details'")
    db.commit()
    db.close()
    store = Store(url)
    run = store.create_run("r", "p", "/p", "v", {})
    store.save_uncommitted_proposals(run.id, [(3, ProposalRecord(proposer="llm", model="m", operator="diff", attempts=({"outcome": "ok"},)))])
    [saved] = store.proposals(run.id)
    assert (saved.iteration, saved.operator, saved.attempts, saved.priced) == (3, "diff", ({"outcome": "ok"},), True)


def test_a_store_from_before_prompt_variants_gains_the_columns_and_the_table(tmp_path):
    url = default_db_url(tmp_path)
    Store(url).close()
    db = sqlite3.connect(tmp_path / "evolve.db")
    _forget_reporting_indexes(db)
    for column in ("parent_id", "prompt_variant"):
        db.execute(f"ALTER TABLE proposals DROP COLUMN {column}")
    db.execute("ALTER TABLE candidates DROP COLUMN improvement")
    db.execute("DROP TABLE prompt_variants")
    db.execute("DELETE FROM schema_migrations WHERE name = '0003_prompt_evolution'")
    db.commit()
    db.close()
    store = Store(url)
    run = store.create_run("r", "p", "/p", "v", {})
    seed = store.commit_iteration(run.id, _candidate(0), None, True)
    store.commit_iteration(run.id, _candidate(1, parent_id=seed.id), ProposalRecord("llm", parent_id=seed.id, prompt_variant="base"), False)
    [call] = store.call_summaries(run.id).values()
    assert call.prompt_variant == "base" and store.prompt_variants(run.id) == []
    assert store.candidates(run.id)[1].improvement is None


def test_prompt_variants_are_stored_with_their_iteration_and_the_call_that_wrote_them(tmp_path):
    store = Store(default_db_url(tmp_path))
    run = store.create_run("r", "p", "/p", "v", {})
    seed = store.commit_iteration(run.id, _candidate(0), None, True)
    writer = ProposalRecord("llm", model="m", operator="prompt", prompt="write guidance", response="```\nhint\n```", cost_usd=0.5)
    variant = PromptVariantRecord("v1", "hint", parent="base")
    made = ProposalRecord("llm", model="m", operator="diff", cost_usd=0.25, parent_id=seed.id, prompt_variant="v1",
                          prompt_call=writer, new_variant=variant)
    child = store.commit_iteration(run.id, replace(_candidate(1, parent_id=seed.id, score=3.0), improvement=2.0), made, True)
    lost = PromptVariantRecord("v2", "never committed", parent="v1")
    store.save_uncommitted_proposals(run.id, [(2, ProposalRecord("llm", model="m", operator="diff", prompt_call=writer, new_variant=lost))])
    assert store.prompt_variants(run.id) == [PromptVariantRecord("v1", "hint", "base", iteration=1)]  # v2's iteration never committed
    shown = store.proposal_of(child.id)
    assert shown.new_variant == PromptVariantRecord("v1", "hint", "base", iteration=1)
    assert (shown.prompt_variant, shown.parent_id, shown.prompt_call.operator, shown.prompt_call.cost_usd) == ("v1", seed.id, "prompt", 0.5)
    assert store.proposal_of(seed.id) is None
    stats = store.prompt_variant_stats(run.id)
    assert [(v.variant.name, v.calls, v.valid, v.improved, v.best_improvement) for v in stats] == [("base", 0, 0, 0, None), ("v1", 1, 1, 1, 2.0)]
    assert store.proposal_totals(run.id)["calls"] == 4 and store.proposal_totals(run.id)["cost_usd"] == 1.25
    [usage] = store.model_usage(run.id)
    assert usage["prompt_calls"] == 2 and usage["failures"] == {"uncommitted": 1}  # writing a prompt is no failure
