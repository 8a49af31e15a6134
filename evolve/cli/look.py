"""Commands that read a run: status, best, show, candidates, export, report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from evolve.candidates import Filters, candidate_rows
from evolve.cli.app import DbUrl, JsonFlag, RunRef, RunsDir, app, console, err_console, num, place
from evolve.errors import UserError
from evolve.export import export_answers, export_best
from evolve.report import run_summary
from evolve.run_folders import RunHandle, list_runs, open_run, shown_state
from evolve.runs import problem_of
from evolve.show import candidate_view, format_candidate
from evolve.store.database_url import shown
from evolve.terminal import printable
from evolve.ui import render_summary


def _summary(handle: RunHandle) -> dict:
    return {**run_summary(handle.store, handle.run), "state": shown_state(handle.refreshed())}


@app.command()
def status(
    run_ref: Annotated[Optional[str], typer.Argument(metavar="[RUN]", help="Run name or folder (default: all runs).")] = None,
    as_json: JsonFlag = False,
    runs_dir: RunsDir = Path("runs"),
    db: DbUrl = None,
) -> None:
    """Show a run's progress, scores and failures (or list all runs)."""
    if run_ref is None:
        _print_runs(place(runs_dir, db), as_json)
        return
    handle = open_run(run_ref, place(runs_dir, db))
    summary = _summary(handle)
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    console().print(render_summary(summary, show_hint=handle.hint("show")))


def _print_runs(where, as_json: bool) -> None:
    handles, unreadable = list_runs(where)
    for broken in unreadable:
        err_console().print(f"warning: {broken.folder}: {broken.reason}", soft_wrap=True, markup=False)
    summaries = [_summary(h) for h in handles]
    if as_json:
        print(json.dumps(summaries, indent=2))
        return
    if not summaries:
        console().print(f"no runs in {shown(where.db) if where.db else where.runs_dir}; start one with: evolve run PROBLEM", soft_wrap=True, markup=False)
        return
    table = Table(title="runs")
    for col in ("name", "problem", "state", "iterations", "seed", "best", "test"):
        table.add_column(col, no_wrap=col == "name")
    for s in summaries:
        table.add_row(s["name"], s["problem"], s["state"], f"{s['iterations_done']}/{s['iterations_requested']}",
                      num(s["seed_score"]), num(s["best_score"]), num(s["best_test_score"]))  # fmt: skip
    console().print(table)


@app.command()
def best(run_ref: RunRef, as_json: JsonFlag = False, runs_dir: RunsDir = Path("runs"), db: DbUrl = None) -> None:
    """Print the best program of a run with its scores."""
    handle = open_run(run_ref, place(runs_dir, db))
    run_info = handle.store.run(handle.run.name)
    if run_info.best_candidate_id is None:
        raise UserError(f"run {run_info.name!r} has no valid candidate yet")
    cand = handle.store.candidate(run_info.best_candidate_id)
    if as_json:
        payload = {"candidate_id": cand.id, "iteration": cand.iteration, "score": cand.score, "test_score": cand.test_score, "code": cand.code}
        print(json.dumps(payload, indent=2))
        return
    print(f"# candidate {cand.id}, iteration {cand.iteration}, score {num(cand.score)}, test {num(cand.test_score)}")
    print(printable(cand.code), end="")


@app.command()
def show(
    run_ref: RunRef,
    iteration: Annotated[int, typer.Argument(help="Iteration of the candidate (0: the seed).")],
    as_json: JsonFlag = False,
    runs_dir: RunsDir = Path("runs"),
    db: DbUrl = None,
) -> None:
    """Show one candidate: status, failure, stage metrics and feedback, diff, and the LLM call with its prompt and answer."""
    handle = open_run(run_ref, place(runs_dir, db))
    view = candidate_view(handle.store, handle.run, iteration)
    print(json.dumps(view.to_json(), indent=2) if as_json else printable(format_candidate(view)), end="" if not as_json else "\n")


@app.command()
def candidates(
    run_ref: RunRef,
    status_filter: Annotated[Optional[str], typer.Option("--status", help="Only this status: valid, invalid, failed, gated, rejected, duplicate.")] = None,
    reason: Annotated[Optional[str], typer.Option(help="Only this failure reason (crash, timeout, invalid, llm_connection, ...).")] = None,
    island: Annotated[Optional[int], typer.Option(help="Only this island.")] = None,
    as_json: JsonFlag = False,
    runs_dir: RunsDir = Path("runs"),
    db: DbUrl = None,
) -> None:
    """List a run's candidates with status, reason, scores and the failure in one line."""
    handle = open_run(run_ref, place(runs_dir, db))
    rows = candidate_rows(handle.store, handle.run, Filters(status_filter, reason, island))
    if as_json:
        print(json.dumps([r.to_json() for r in rows], indent=2))
        return
    table = Table(title=f"{handle.run.name}: {len(rows)} candidate(s) (one in full: {handle.hint('show')} ITERATION)")
    for col in ("iter", "island", "status", "reason", "score", "test", "why / summary"):
        table.add_column(col, no_wrap=col != "why / summary", overflow="fold")
    for r in rows:
        table.add_row(str(r.iteration), str(r.island), r.status, r.reason or "", num(r.score), num(r.test_score), printable(r.detail or r.summary))
    console().print(table)


@app.command()
def export(
    run_ref: RunRef,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default: RUN_FOLDER/export).")] = None,
    answers: Annotated[bool, typer.Option("--answers", help="Instead: every stored LLM answer with its parent, as answers.jsonl for benchmarks/answer_acceptance.py.")] = False,
    runs_dir: RunsDir = Path("runs"),
    db: DbUrl = None,
) -> None:
    """Write the best program as a patch against the seed, the program file, and a JSON of evidence."""
    handle = open_run(run_ref, place(runs_dir, db))
    if answers:
        path = (out or handle.run_dir / "export") / "answers.jsonl"
        written, skipped = export_answers(handle.store, handle.run, path)
        note = f" ({skipped} without a recorded parent left out)" if skipped else ""
        console().print(f"answers:  {path} ({written} answers{note})", soft_wrap=True)
        return
    prob = problem_of(handle)
    paths = export_best(handle.store, handle.run, prob.seed_path, out or handle.run_dir / "export")
    shown = console()
    shown.print(f"patch:    {paths.patch}", soft_wrap=True)
    shown.print(f"program:  {paths.program}", soft_wrap=True)
    shown.print(f"metadata: {paths.metadata}", soft_wrap=True)
    shown.print(f"try it:   evolve eval {prob.root} {paths.program}   (the problem's own seed stays as it is)", soft_wrap=True)
    shown.print(f"apply it: patch YOUR/COPY/OF/{prob.seed_path.name} {paths.patch.resolve()}   (or git apply in {paths.apply_in})", soft_wrap=True)


@app.command()
def report(
    run_ref: RunRef,
    out: Annotated[Optional[Path], typer.Option(help="HTML file to write (default: RUN_FOLDER/report.html).")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the report in the default web browser.")] = False,
    runs_dir: RunsDir = Path("runs"),
    db: DbUrl = None,
) -> None:
    """Write one self-contained HTML file (works offline): score curves, lineage with diffs, failures, spend, every candidate."""
    handle = open_run(run_ref, place(runs_dir, db))
    from evolve.html_report import write_report  # imports Plotly: slow, and only this command needs it

    if out is None:
        handle.run_dir.mkdir(parents=True, exist_ok=True)
    built = write_report(handle.store, handle.run, out or handle.run_dir / "report.html")
    console().print(
        f"report: {built.path} ({built.size_bytes / 1e6:.1f} MB, {built.candidates} candidates, built in {built.seconds:.1f} s)",
        soft_wrap=True,
    )
    if open_browser:
        import webbrowser

        if not webbrowser.open(built.path.resolve().as_uri()):
            print(f"warning: found no web browser to open it; open {built.path} yourself", file=sys.stderr)
