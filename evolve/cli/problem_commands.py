"""Commands about problems: eval (score a program), check (a problem folder), problems (list, baselines)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from evolve.baselines import BaselineCache, collect, default_cache_file, problem_folders, table_rows
from evolve.cli.app import JsonFlag, SandboxOpt, app, console, err_console, num, sandbox_default, stderr_log
from evolve.config import RunConfig, build_config
from evolve.errors import UserError
from evolve.evaluate import evaluate_program
from evolve.preflight import Passed, preflight
from evolve.problem import Problem, check_evaluator, load_problem, parse_param, with_params
from evolve.problems_index import find_problem, list_problems, shipped_root
from evolve.runs import make_executor, scoring
from evolve.terminal import last_line, printable

EXIT_NOT_VALID = 1  # `evolve eval`: a stage failed or came back invalid


def _config(prob: Problem, sandbox: str | None, timeout: float | None = None) -> RunConfig:
    limits = {"timeout_seconds": prob.run_defaults.timeout_seconds, "memory_mb": prob.run_defaults.memory_mb}
    return build_config(*sandbox_default(prob.run_defaults.sandbox), limits, {"sandbox": sandbox, "timeout_seconds": timeout})


@app.command(name="eval")
def eval_cmd(
    problem: Annotated[str, typer.Argument(help="Problem folder, or the name of a shipped problem.")],
    file: Annotated[Path, typer.Argument(help="Program to score (e.g. a baseline).")],
    sandbox: SandboxOpt = None,
    timeout: Annotated[Optional[float], typer.Option(help="Wall-clock limit per stage, seconds.")] = None,
    as_json: JsonFlag = False,
    param: Annotated[Optional[list[str]], typer.Option("--param", help="Evaluator parameter KEY=VALUE, e.g. model=published, traces=PATH (repeatable).")] = None,
) -> None:
    """Score any program on every stage (train and held-out test); exit 1 if a stage fails or is invalid."""
    prob = load_problem(find_problem(problem))
    if param:
        prob = with_params(prob, dict(parse_param(p) for p in param))
    check_evaluator(prob)
    if not file.is_file():
        raise UserError(f"program file {file} not found")
    try:
        code = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"program file {file} is not UTF-8 text") from None
    result = asyncio.run(_eval(prob, code, _config(prob, sandbox, timeout)))
    result["file"] = str(file)
    bad = {stage: r for stage, r in result["stages"].items() if not r["valid"]}
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        table = Table(title=f"{prob.name}: {file}")
        for col in ("stage", prob.objective.metric, "valid", "seconds", "note"):
            table.add_column(col, overflow="fold")
        for stage, r in result["stages"].items():
            table.add_row(stage, num(r["score"]), "yes" if r["valid"] else "NO", f"{r['seconds']:.2f}", printable(last_line(r["reason"] or "")) if r["reason"] else "")
        console().print(table)
    for stage, r in bad.items():
        print(f"{stage}: {r['error'] or 'invalid'}: {printable(last_line(r['reason'] or 'no reason given'))}", file=sys.stderr)
    if bad:
        raise typer.Exit(EXIT_NOT_VALID)


async def _eval(prob: Problem, code: str, config: RunConfig) -> dict:
    async with scoring(prob, config, stderr_log) as scorer:
        if scorer.sandbox_note:
            print(f"warning: sandbox {scorer.sandbox_name}: {scorer.sandbox_note}", file=sys.stderr)
        return await evaluate_program(prob, code, scorer)


@app.command()
def check(
    problem: Annotated[str, typer.Argument(help="Problem folder, or the name of a shipped problem.")],
    sandbox: SandboxOpt = None,
) -> None:
    """Check a problem folder as `evolve run` does before it creates a run: markers, syntax, evaluator, stages, seed, features."""
    prob = load_problem(find_problem(problem))
    config = _config(prob, sandbox)
    out = console()
    out.print(f"check problem.toml: {prob.name} loads ({prob.root})", soft_wrap=True, markup=False)
    asyncio.run(_check(prob, config, lambda p: out.print(f"check {p.check}: {p.note}", soft_wrap=True, markup=False)))
    out.print(f"ok: {prob.name} is ready for: evolve run {prob.root}", soft_wrap=True, markup=False)


async def _check(prob: Problem, config: RunConfig, report) -> None:
    async with scoring(prob, config, stderr_log) as scorer:
        report(Passed("sandbox", scorer.sandbox_name + (f" ({scorer.sandbox_note})" if scorer.sandbox_note else "")))
        await preflight(prob, scorer, report)


@app.command()
def problems(
    as_json: JsonFlag = False,
    baselines: Annotated[bool, typer.Option("--baselines", help="Score each problem's seed and baselines on train and test (cached per problem version).")] = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="With --baselines: recompute even when cached.")] = False,
    sandbox: SandboxOpt = None,
    problems_dir: Annotated[Optional[Path], typer.Option("--problems-dir", help="With --baselines: folder of problem folders (default: the shipped ones).")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", envvar="EVOLVE_CACHE_DIR", help="With --baselines: where baselines.json is cached (default ~/.cache/evolve).")] = None,
) -> None:
    """List the shipped problems; with --baselines, score their seeds and baselines."""
    if baselines:
        _baselines(as_json, refresh, sandbox, problems_dir or shipped_root(), cache_dir)
        return
    rows = list_problems()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="problems")
    for col in ("name", "path", "objective", "baselines", "description"):
        table.add_column(col, no_wrap=col in ("name", "path"))
    for r in rows:
        table.add_row(r["name"], r["path"], r["objective"], ", ".join(r["baselines"]), r["description"].split(":")[0][:50])
    console().print(table)


def _baselines(as_json: bool, refresh: bool, sandbox: str | None, root: Path, cache_dir: Path | None) -> None:
    problem_folders(root)  # a missing folder or an unknown backend fails before any work
    build_config(*sandbox_default(None), {"sandbox": sandbox})
    cache = BaselineCache.open(cache_dir / "baselines.json" if cache_dir else default_cache_file())
    err = err_console()
    warned: set[str] = set()

    def open_sandbox(prob: Problem):
        """The problem's own sandbox, as `evolve eval` would choose it; each warning said once."""
        box = make_executor(_config(prob, sandbox), prob, stderr_log)
        if box.note and box.note not in warned:
            warned.add(box.note)
            err.print(f"warning: sandbox {box.name}: {box.note}")
        return box

    async def go():
        return await collect(root, cache, open_sandbox, refresh=refresh, progress=lambda line: err.print(line))

    results = asyncio.run(go())
    if as_json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    else:
        headers, rows = table_rows(results)
        table = Table(title=f"baselines (cache: {cache.path})")
        for k, col in enumerate(headers):
            table.add_column(col, no_wrap=k < 2)
        for row in rows:
            table.add_row(*row)
        console().print(table)
    broken = [r.name for r in results if r.error]
    if broken:
        raise UserError(f"{len(broken)} problem folder(s) could not be scored: {', '.join(broken)} (see the table)")
