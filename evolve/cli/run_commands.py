"""`evolve run` and `evolve resume`: start or continue a run, show it live, say what comes next."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from evolve.cli.app import (
    DbUrl, ExecutorOpt, OrderOpt, RayAddressOpt, RunRef, RunsDir, SandboxOpt, app, console, num, place, sandbox_default, stderr_log,
)  # fmt: skip
from evolve.config import RunConfig, build_config, with_commit_order, with_private_workloads
from evolve.loop.controller import RunResult
from evolve.errors import StoreError, UserError
from evolve.events import RunStatus
from evolve.llm_config import build_llm, read_config_file, replay_run_settings
from evolve.problem import check_evaluator, load_problem
from evolve.problems_index import find_problem
from evolve.report import run_summary
from evolve.run_folders import RunHandle, check_name, hint, new_run_name, open_run, run_lock
from evolve.runs import check_llm, check_sandbox, config_of, execute, problem_of, start_run
from evolve.ui import live_view, spend_summary

EXIT_FAILED = 1  # the run could not do its job (the final line says why and what to fix)
EXIT_INTERRUPTED = 130


@app.command()
def run(
    problem: Annotated[str, typer.Argument(help="Problem folder, or the name of a shipped problem.")],
    iterations: Annotated[Optional[int], typer.Option(help="Proposals to make after the seed.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default 0); same seed and workers, same run.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Evaluations running at once (default: one per core).")] = None,
    llm_concurrency: Annotated[Optional[int], typer.Option("--llm-concurrency", help="LLM calls in flight at once (default: 8 per worker, at least 16).")] = None,
    order: OrderOpt = None,
    executor: ExecutorOpt = None,
    ray_address: RayAddressOpt = None,
    islands: Annotated[Optional[int], typer.Option(help="Number of islands.")] = None,
    sandbox: SandboxOpt = None,
    name: Annotated[Optional[str], typer.Option(help="Run name (default: problem-timestamp).")] = None,
    max_time: Annotated[Optional[float], typer.Option("--max-time", help="Stop after this many seconds.")] = None,
    target: Annotated[Optional[float], typer.Option(help="Stop once the best score reaches this.")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="Wall-clock limit per candidate, seconds.")] = None,
    workloads: Annotated[
        Optional[str],
        typer.Option(help="private (default): workloads seeded with this machine's secret, unpredictable to candidates; public: the problem's published seeds, as `evolve eval` uses."),
    ] = None,
    model: Annotated[
        Optional[list[str]],
        typer.Option(
            "--model",
            help="PROVIDER/MODEL[=WEIGHT], repeatable (openai/gpt-5-mini, anthropic/claude-sonnet-4-5=0.2, "
            "ollama/qwen2.5-coder, vllm/..., openrouter/...), or replay/FILE. Default: the offline mutator.",
        ),
    ] = None,
    selection: Annotated[Optional[str], typer.Option(help="How the ensemble picks a model: weights or bandit.")] = None,
    base_url: Annotated[Optional[str], typer.Option("--base-url", help="Endpoint for the --model(s), e.g. http://localhost:8000/v1.")] = None,
    max_cost: Annotated[Optional[float], typer.Option("--max-cost", help="Stop before LLM spend could pass this many dollars.")] = None,
    max_tokens: Annotated[Optional[int], typer.Option("--max-tokens", help="Stop before LLM tokens (in + out) could pass this.")] = None,
    max_failed_calls: Annotated[Optional[int], typer.Option("--max-failed-calls", help="Stop (exit 1) after this many iterations in a row whose LLM call failed outright (default 5).")] = None,
    record: Annotated[Optional[Path], typer.Option(help="Append every LLM request and response to this cassette file.")] = None,
    config_file: Annotated[Optional[Path], typer.Option("--config", help="TOML file with [run] settings and an [llm] table.")] = None,
    runs_dir: RunsDir = Path("runs"),
    db: DbUrl = None,
) -> None:
    """Start an evolution run on a problem (its folder is checked first, as `evolve check` does)."""
    prob = load_problem(find_problem(problem))
    check_evaluator(prob)  # a wrong evaluator parameter (e.g. a trace path) fails before anything is stored
    defaults = prob.run_defaults
    file_config = read_config_file(config_file) if config_file else {}
    llm = build_llm([prob.llm_defaults, file_config.get("llm", {})], model or [], selection, base_url)
    config = build_config(
        *sandbox_default(defaults.sandbox),
        {
            "iterations": defaults.iterations,
            "islands": defaults.islands,
            "workers": defaults.workers,
            "migration_interval": defaults.migration_interval,
            "timeout_seconds": defaults.timeout_seconds,
            "memory_mb": defaults.memory_mb,
        },
        file_config.get("run", {}),
        replay_run_settings(llm),
        {
            "llm": llm,
            "proposer": "llm" if llm else "offline",
            "max_cost_usd": max_cost,
            "max_tokens": max_tokens,
            "max_failed_calls": max_failed_calls,
        },
        {
            "iterations": iterations,
            "seed": seed,
            "workers": workers,
            "llm_concurrency": llm_concurrency,
            "order": order,
            "executor": executor,
            "ray_address": ray_address,
            "islands": islands,
            "sandbox": sandbox,
            "max_time_seconds": max_time,
            "target_score": target,
            "timeout_seconds": timeout,
            "workloads": workloads,
        },
    )
    config = with_commit_order(with_private_workloads(config))
    check_llm(config)
    check_sandbox(config, prob)
    if record and config.llm and config.llm.replay:
        raise UserError("--record with --model replay/...: a replay makes no calls to record")
    where = place(runs_dir, db)
    run_name = check_name(name or new_run_name(prob))
    status = RunStatus()
    out = console()
    created = lambda: where.db is not None or (where.runs_dir / run_name / "evolve.db").exists()  # noqa: E731
    with _ending(hint("resume", run_name, where), created):
        handle, result = asyncio.run(
            start_run(prob, config, where, run_name, lambda: live_view(out, status), record, log=stderr_log)
        )
    _finish(handle, config, result, prob.objective.maximize)


@app.command()
def resume(
    run_ref: RunRef,
    iterations: Annotated[Optional[int], typer.Option(help="New total number of iterations.")] = None,
    max_time: Annotated[Optional[float], typer.Option("--max-time", help="Stop after this many seconds.")] = None,
    max_cost: Annotated[Optional[float], typer.Option("--max-cost", help="New dollar budget for the whole run.")] = None,
    max_tokens: Annotated[Optional[int], typer.Option("--max-tokens", help="New token budget for the whole run.")] = None,
    record: Annotated[Optional[Path], typer.Option(help="Append this session's LLM calls to this cassette file.")] = None,
    executor: ExecutorOpt = None,
    ray_address: RayAddressOpt = None,
    runs_dir: RunsDir = Path("runs"),
    db: DbUrl = None,
) -> None:
    """Continue a run stopped by Ctrl-C, a budget, or a crash, exactly where it left off."""
    handle = open_run(run_ref, place(runs_dir, db))
    overrides = {"max_cost_usd": max_cost, "max_tokens": max_tokens, "executor": executor, "ray_address": ray_address}
    with run_lock(handle), _ending(handle.hint("resume")):
        _resume(handle.refreshed(), iterations, max_time, overrides, record)


def _resume(handle: RunHandle, iterations: int | None, max_time: float | None, overrides: dict, record: Path | None) -> None:
    prob = problem_of(handle)
    if prob.version() != handle.run.problem_version:
        print(
            f"warning: files in {prob.root} changed since run {handle.run.name} started; "
            "new scores may not be comparable with stored ones",
            file=sys.stderr,
        )
    config = config_of(handle)
    done = max(0, handle.run.iterations_done)
    if iterations is not None and iterations < done:
        raise UserError(f"--iterations {iterations} is below the {done} iterations run {handle.run.name} has done")
    changes = {"iterations": iterations, "max_time_seconds": max_time, **overrides}
    changed = any(v is not None for v in changes.values())
    if changed:
        config = build_config(config.model_dump(), changes)
    config = with_private_workloads(config)
    check_llm(config)
    check_sandbox(config, prob)
    if record and config.llm and config.llm.replay:
        raise UserError("--record on a replayed run: a replay makes no calls to record")
    if changed:
        handle.store.set_config(handle.run.id, config.model_dump(mode="json"))
    if handle.run.iterations_done >= config.iterations and handle.run.state == "finished":
        console().print(f"run {handle.run.name} already finished {config.iterations} iterations (raise --iterations to go on)")
        return
    status = RunStatus()
    with live_view(console(), status) as sink:
        result = asyncio.run(execute(handle, prob, config, sink, record))
    _finish(handle, config, result, prob.objective.maximize)


class _ending:
    """Ctrl-C that reaches here (outside the run's own handler), or a store that refuses writes (a
    full disk), still ends with one line and the resume hint, or says that nothing was stored
    (stopped during the checks, before the run was created)."""

    def __init__(self, hint: str, created=lambda: True):
        self.hint, self.created = hint, created

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is KeyboardInterrupt:
            said = f"continue with: {self.hint}" if self.created() else "stopped before the run was created; nothing was stored"
            print(f"interrupted; {said}", file=sys.stderr)
            raise typer.Exit(EXIT_INTERRUPTED)
        if kind is not None and issubclass(kind, StoreError):
            print(f"error: {exc}; what was stored before is intact: make room (or bring the database back), then {self.hint}", file=sys.stderr)
            raise typer.Exit(EXIT_FAILED)
        return False


def _finish(handle: RunHandle, config: RunConfig, result: RunResult, maximize: bool) -> None:
    """The final lines: what happened, the scores, the spend, and the next command."""
    out = console()
    summary = run_summary(handle.store, handle.run)
    seed_test, best_test = summary["seed_test_score"], summary["best_test_score"]
    out.print(
        f"{result.state}: {result.reason}. {summary['iterations_done']} iterations; "
        f"seed {num(summary['seed_score'])} (test {num(seed_test)}) -> best {num(summary['best_score'])} "
        f"(iteration {summary['best_iteration']}, held-out test {num(best_test)})",
        soft_wrap=True, markup=False,
    )  # fmt: skip
    if seed_test is not None and best_test is not None and summary["best_iteration"] and (best_test < seed_test) == maximize and best_test != seed_test:
        out.print(f"warning: the best's held-out test score {best_test:.3f} is worse than the seed's {seed_test:.3f}: it may be overfit to train", soft_wrap=True)
    if config.llm is not None:
        out.print(spend_summary(summary, config), soft_wrap=True, markup=False)
    if result.state == "failed":
        print(f"error: {result.reason}", file=sys.stderr)
        out.print(f"{handle.where}   see what failed: {handle.hint('candidates')} --status rejected", soft_wrap=True, markup=False)
        raise typer.Exit(EXIT_FAILED)
    next_step = handle.hint("export") if summary["best_iteration"] else f"{handle.hint('status')} (nothing beat the seed yet)"
    out.print(f"{handle.where}   next: {next_step}", soft_wrap=True, markup=False)
    if result.state != "finished" and result.reason == "interrupted":
        out.print(f"continue with: {handle.hint('resume')}", soft_wrap=True, markup=False)
        raise typer.Exit(EXIT_INTERRUPTED)

