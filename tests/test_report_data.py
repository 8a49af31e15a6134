"""The data an HTML report is built from, checked against real runs' stores read with plain SQL."""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest
from report_runs import BAD, GOOD, PRICES, XSS, llm_report, offline_run

from evolve.html_report import collect
from evolve.html_report.tree import lineage_tree
from evolve.run_folders import RunPlace, open_run


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    runs = offline_run(tmp_path_factory.mktemp("offline"))
    handle = open_run("offline", RunPlace(runs))
    return collect(handle.store, handle.run), sqlite3.connect(runs / "offline" / "evolve.db"), handle


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    _, runs = llm_report(tmp_path_factory)
    handle = open_run("llm", RunPlace(runs))
    return collect(handle.store, handle.run), sqlite3.connect(runs / "llm" / "evolve.db")


def test_every_candidate_is_a_point_and_the_running_best_follows_the_scores(offline):
    data, db, _ = offline
    rows = db.execute("SELECT id, iteration, status, score FROM candidates ORDER BY iteration").fetchall()
    assert [p.candidate_id for p in data.curve.points] == [r[0] for r in rows]
    assert [p.score is not None for p in data.curve.points] == [r[2] == "valid" for r in rows]
    expected, record = [], None
    for cid, iteration, status, score in rows:
        if status == "valid" and (record is None or score > record):
            expected.append((cid, iteration, score))
            record = score
    assert [(s.candidate_id, s.iteration, s.train) for s in data.curve.best_steps] == expected
    best_id, best_test = db.execute(
        "SELECT c.id, c.test_score FROM runs r JOIN candidates c ON c.id = r.best_candidate_id").fetchone()
    assert data.curve.best_steps[-1].candidate_id == best_id == data.overview.best_candidate_id
    assert data.curve.best_steps[-1].test == best_test is not None  # the held-out score of each new best is kept
    assert len(expected) > 1, "the run should have improved on its seed"


def test_the_ancestry_runs_from_the_seed_to_the_best_with_each_step_change(offline):
    data, db, _ = offline
    parent_of = dict(db.execute("SELECT id, parent_id FROM candidates"))
    score_of = dict(db.execute("SELECT id, score FROM candidates"))
    diff_of = dict(db.execute("SELECT id, diff FROM candidates"))
    steps = data.ancestry
    assert steps[0].iteration == 0 and parent_of[steps[0].candidate_id] is None
    assert steps[-1].candidate_id == data.overview.best_candidate_id
    for parent, child in zip(steps, steps[1:]):
        assert parent_of[child.candidate_id] == parent.candidate_id
        assert child.delta == pytest.approx(score_of[child.candidate_id] - score_of[parent.candidate_id])
        assert child.improved == (child.delta > 0)
        assert child.diff == diff_of[child.candidate_id] and child.diff.startswith("---")
    assert any(s.improved for s in steps)


def test_counts_and_failures_by_reason_match_the_store(offline):
    data, db, _ = offline
    by_status = dict(db.execute("SELECT status, COUNT(*) FROM candidates GROUP BY status"))
    assert dict(data.overview.counts) == by_status
    by_reason = dict(db.execute(
        "SELECT COALESCE(failure_reason, status), COUNT(*) FROM candidates WHERE status != 'valid' GROUP BY 1"))
    assert {t.reason: t.count for t in data.failures.totals} == by_reason and by_reason
    for series in data.failures.series:
        assert sum(series.counts) == by_reason[series.reason]
        assert len(series.counts) == len(data.failures.bin_starts)
    latest = {t.reason: t.latest_candidate_id for t in data.failures.totals}
    for reason, cid in latest.items():
        assert db.execute("SELECT MAX(id) FROM candidates WHERE COALESCE(failure_reason, status) = ? AND status != 'valid'",
                          (reason,)).fetchone()[0] == cid


def test_every_candidate_is_reachable_with_its_children_and_stages(offline):
    data, db, _ = offline
    assert len(data.candidates) == db.execute("SELECT COUNT(*) FROM candidates").fetchone()[0]
    children = Counter(p for (p,) in db.execute("SELECT parent_id FROM candidates WHERE parent_id IS NOT NULL"))
    stages = Counter(c for (c,) in db.execute("SELECT candidate_id FROM evaluations"))
    for detail in data.candidates:
        cid = detail.candidate.id
        assert len(detail.child_ids) == children[cid]
        assert len(detail.candidate.evaluations) == stages[cid]
        assert all(db.execute("SELECT parent_id FROM candidates WHERE id = ?", (k,)).fetchone()[0] == cid for k in detail.child_ids)


def test_the_grid_of_each_island_is_replayed_from_the_lineage(offline):
    data, db, handle = offline
    grids = data.grids.islands
    assert [g.island for g in grids] == [0, 1] and not data.grids.note
    assert (grids[0].x.metric, grids[0].y.metric) == ("a", "code_size")
    valid = dict(db.execute("SELECT id, score FROM candidates WHERE status = 'valid'"))
    cells = [(s, i) for g in grids for row_s, row_i in zip(g.scores, g.candidate_ids) for s, i in zip(row_s, row_i) if i is not None]
    assert cells and all(valid[i] == s for s, i in cells)
    assert max(s for s, _ in cells) == data.overview.best.train  # the best is its cell's elite


def test_a_large_tree_is_pruned_to_the_best_ancestries_and_says_so(offline):
    data, db, handle = offline
    records = handle.store.candidates(handle.run.id)
    path = [s.candidate_id for s in data.ancestry]
    tree = lineage_tree(records, path, maximize=True, limit=len(path) + 3)
    kept = {n.candidate_id for n in tree.nodes}
    assert set(path) <= kept and len(kept) <= len(path) + 3 < len(records)
    assert all(n.parent_id in kept for n in tree.nodes if n.parent_id is not None)  # whole ancestries, no orphans
    assert f"{len(kept)} of {len(records)} candidates drawn" in tree.note
    assert {n.lane for n in tree.nodes if n.on_best_path} == {0.0}  # the winner's lineage is one straight lane
    full = data.tree
    assert len(full.nodes) == full.total == len(records) and full.note == ""


def test_spend_by_model_matches_the_calls_in_the_store(llm):
    data, db = llm
    sql = {model: (calls, t_in, t_out, cost) for model, calls, t_in, t_out, cost in db.execute(
        "SELECT model, COUNT(*), SUM(tokens_in), SUM(tokens_out), SUM(cost_usd) FROM proposals GROUP BY model")}
    spend = {m.model: m for m in data.spend.models}
    assert set(spend) == {GOOD, BAD} == set(sql)
    for model, (calls, t_in, t_out, cost) in sql.items():
        m = spend[model]
        assert (m.calls, m.tokens_in, m.tokens_out) == (calls, t_in, t_out)
        assert m.dollars == pytest.approx(cost) and m.dollars == pytest.approx((t_in * PRICES[model][0] + t_out * PRICES[model][1]) / 1e6)
        series = next(s for s in data.spend.series if s.model == model).points
        assert series[-1].calls == calls and series[-1].dollars == pytest.approx(cost)
    assert spend[BAD].new_bests == 0 and spend[BAD].errors == spend[BAD].calls  # it never answered with code
    assert spend[GOOD].new_bests == len(data.curve.best_steps) - 1 > 0
    assert spend[GOOD].new_bests_per_dollar == pytest.approx(spend[GOOD].new_bests / spend[GOOD].dollars)
    assert data.overview.spent.dollars == pytest.approx(sum(c[3] for c in sql.values()))
    assert set(data.overview.proposers) == {GOOD, BAD}


def test_llm_candidates_carry_their_call_verbatim(llm):
    data, db = llm
    calls = {cid: row for cid, *row in db.execute(
        "SELECT c.id, p.model, p.operator, p.prompt, p.response, p.tokens_in FROM candidates c JOIN proposals p ON p.id = c.proposal_id")}
    with_calls = [d for d in data.candidates if d.call is not None]
    assert len(with_calls) == len(calls) == len(data.candidates) - 1  # all but the seed
    for d in with_calls:
        model, operator, prompt, response, tokens_in = calls[d.candidate.id]
        assert (d.call.model, d.call.operator, d.call.prompt, d.call.response, d.call.tokens_in) == (
            model, operator, prompt, response, tokens_in)
        assert d.model == model
    assert any(XSS in d.candidate.code and XSS in d.call.response for d in with_calls)  # hostile text is kept as data
