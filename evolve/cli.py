"""The `evolve` command: thin commands over the library; user mistakes are one line and exit 2."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from evolve.baselines import BaselineCache, collect, default_cache_file, problem_folders, table_rows
from evolve.config import RunConfig, build_config, with_private_workloads
from evolve.errors import EvolveError, UserError
from evolve.evaluate import evaluate_program
from evolve.events import RunStatus
from evolve.export import export_answers, export_best
from evolve.problem import check_evaluator, load_problem, parse_param, with_params
from evolve.problems_index import find_problem, list_problems, shipped_root
from evolve.report import run_summary
from evolve.llm_config import build_llm, read_config_file, replay_run_settings
from evolve.terminal import printable
from evolve.runs import RunHandle, check_llm, check_sandbox, config_of, create_run, execute, list_runs, make_sandbox, open_run, problem_of, run_lock
from evolve.scoring import Scorer
from evolve.show import candidate_view, format_candidate
from evolve.ui import live_view, render_summary, spend_summary
from evolve.cli_sandbox import sandbox_app
from sandboxes.errors import SandboxUnavailable

app = typer.Typer(
    help="Evolve systems policies with LLMs (or the offline mutator), scored in sandboxes, stored in SQLite.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)

RunsDir = Annotated[
    Path, typer.Option("--runs-dir", envvar="EVOLVE_RUNS_DIR", help="Folder holding one sub-folder per run.")
]
DbUrl = Annotated[
    Optional[str], typer.Option("--db", help="SQLAlchemy URL of the store (default: SQLite in the run folder).")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
SandboxOpt = Annotated[
    str,
    typer.Option(envvar="EVOLVE_SANDBOX", help="Sandbox backend: auto (docker, else bwrap, else process), docker, bwrap or process."),
]
app.add_typer(sandbox_app, name="sandbox")


def _console() -> Console:
    return Console(highlight=False)


@app.command()
def run(
    problem: Annotated[str, typer.Argument(help="Problem folder, or the name of a shipped problem.")],
    iterations: Annotated[Optional[int], typer.Option(help="Proposals to make after the seed.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default 0); same seed and workers, same run.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Iterations in flight at once.")] = None,
    islands: Annotated[Optional[int], typer.Option(help="Number of islands.")] = None,
    sandbox: SandboxOpt = "auto",
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
    record: Annotated[Optional[Path], typer.Option(help="Append every LLM request and response to this cassette file.")] = None,
    config_file: Annotated[Optional[Path], typer.Option("--config", help="TOML file with [run] settings and an [llm] table.")] = None,
    runs_dir: RunsDir = Path("runs"),
    db: DbUrl = None,
) -> None:
    """Start an evolution run on a problem."""
    prob = load_problem(find_problem(problem))
    check_evaluator(prob)  # a wrong evaluator parameter (e.g. a trace path) fails before anything is stored
    defaults = prob.run_defaults
    file_config = read_config_file(config_file) if config_file else {}
    llm = build_llm([prob.llm_defaults, file_config.get("llm", {})], model or [], selection, base_url)
    config = build_config(
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
        },
        {
            "iterations": iterations,
            "seed": seed,
            "workers": workers,
            "islands": islands,
            "sandbox": sandbox,
            "max_time_seconds": max_time,
            "target_score": target,
            "timeout_seconds": timeout,
            "workloads": workloads,
        },
    )
    config = with_private_workloads(config)
    check_llm(config)
    check_sandbox(config)
    if record and config.llm and config.llm.replay:
        raise UserError("--record with --model replay/...: a replay makes no calls to record")
    handle = create_run(prob, config, runs_dir, name, db)
    with run_lock(handle.run_dir):
        _drive(handle, prob, config, record)


@app.command()
def resume(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="Run name or run folder.")],
    iterations: Annotated[Optional[int], typer.Option(help="New total number of iterations.")] = None,
    max_time: Annotated[Optional[float], typer.Option("--max-time", help="Stop after this many seconds.")] = None,
    max_cost: Annotated[Optional[float], typer.Option("--max-cost", help="New dollar budget for the whole run.")] = None,
    max_tokens: Annotated[Optional[int], typer.Option("--max-tokens", help="New token budget for the whole run.")] = None,
    record: Annotated[Optional[Path], typer.Option(help="Append this session's LLM calls to this cassette file.")] = None,
    runs_dir: RunsDir = Path("runs"),
    db: DbUrl = None,
) -> None:
    """Continue a run stopped by Ctrl-C, a budget, or a crash, exactly where it left off."""
    handle = open_run(run_ref, runs_dir, db)
    budgets = {"max_cost_usd": max_cost, "max_tokens": max_tokens}
    with run_lock(handle.run_dir):
        _resume(handle, iterations, max_time, budgets, record)


def _resume(handle, iterations: int | None, max_time: float | None, budgets: dict, record: Path | None) -> None:
    handle = RunHandle(handle.store, handle.store.run(handle.run.name), handle.run_dir)  # fresh, under the lock
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
    changes = {"iterations": iterations, "max_time_seconds": max_time, **budgets}
    changed = any(v is not None for v in changes.values())
    if changed:
        config = build_config(config.model_dump(), changes)
    config = with_private_workloads(config)
    check_llm(config)
    check_sandbox(config)
    if record and config.llm and config.llm.replay:
        raise UserError("--record on a replayed run: a replay makes no calls to record")
    if changed:
        handle.store.set_config(handle.run.id, config.model_dump(mode="json"))
    if handle.run.iterations_done >= config.iterations and handle.run.state == "finished":
        _console().print(f"run {handle.run.name} already finished {config.iterations} iterations (raise --iterations to go on)")
        return
    _drive(handle, prob, config, record)


def _drive(handle, prob, config: RunConfig, record: Path | None = None) -> None:
    console = _console()
    status = RunStatus()
    with live_view(console, status) as sink:
        result = asyncio.run(execute(handle, prob, config, sink, record))
    summary = run_summary(handle.store, handle.run)
    console.print(
        f"{result.state}: {result.reason}. {summary['iterations_done']} iterations; "
        f"seed {_num(summary['seed_score'])} -> best {_num(summary['best_score'])} "
        f"(iteration {summary['best_iteration']}, held-out test {_num(summary['best_test_score'])})"
    )
    if config.llm is not None:
        console.print(spend_summary(summary, config), soft_wrap=True, markup=False)
    console.print(f"run folder: {handle.run_dir}   next: evolve export {handle.run.name}")
    if result.state != "finished" and result.reason == "interrupted":
        console.print(f"continue with: evolve resume {handle.run.name}")
        raise typer.Exit(130)


def _num(value) -> str:
    return "-" if value is None else f"{value:.3f}"


@app.command()
def status(
    run_ref: Annotated[Optional[str], typer.Argument(metavar="[RUN]", help="Run name or folder (default: all runs).")] = None,
    as_json: JsonFlag = False,
    runs_dir: RunsDir = Path("runs"),
    db: DbUrl = None,
) -> None:
    """Show a run's progress, scores and failures (or list all runs)."""
    if run_ref is None:
        _print_runs([run_summary(store, run) for store, run in list_runs(runs_dir, db)], as_json)
        return
    handle = open_run(run_ref, runs_dir, db)
    summary = run_summary(handle.store, handle.run)
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    _console().print(render_summary(summary))


def _print_runs(summaries: list[dict], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summaries, indent=2))
        return
    table = Table(title="runs")
    for col in ("name", "problem", "state", "iterations", "seed", "best", "test"):
        table.add_column(col)
    for s in summaries:
        table.add_row(
            s["name"],
            s["problem"],
            s["state"],
            f"{s['iterations_done']}/{s['iterations_requested']}",
            _num(s["seed_score"]),
            _num(s["best_score"]),
            _num(s["best_test_score"]),
        )
    _console().print(table)


@app.command()
def best(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="Run name or run folder.")],
    as_json: JsonFlag = False,
    runs_dir: RunsDir = Path("runs"),
    db: DbUrl = None,
) -> None:
    """Print the best program of a run with its scores."""
    handle = open_run(run_ref, runs_dir, db)
    run_info = handle.store.run(handle.run.name)
    if run_info.best_candidate_id is None:
        raise UserError(f"run {run_info.name!r} has no valid candidate yet")
    cand = handle.store.candidate(run_info.best_candidate_id)
    if as_json:
        payload = {"candidate_id": cand.id, "iteration": cand.iteration, "score": cand.score, "test_score": cand.test_score, "code": cand.code}
        print(json.dumps(payload, indent=2))
        return
    print(f"# candidate {cand.id}, iteration {cand.iteration}, score {_num(cand.score)}, test {_num(cand.test_score)}")
    print(printable(cand.code), end="")


@app.command()
def show(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="Run name or run folder.")],
    iteration: Annotated[int, typer.Argument(help="Iteration of the candidate (0: the seed).")],
    as_json: JsonFlag = False,
    runs_dir: RunsDir = Path("runs"),
    db: DbUrl = None,
) -> None:
    """Show one candidate: status, failure, stage metrics and feedback, diff, and the LLM call with its prompt and answer."""
    handle = open_run(run_ref, runs_dir, db)
    view = candidate_view(handle.store, handle.run, iteration)
    print(json.dumps(view.to_json(), indent=2) if as_json else printable(format_candidate(view)), end="" if not as_json else "\n")


@app.command()
def export(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="Run name or run folder.")],
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default: RUN_FOLDER/export).")] = None,
    answers: Annotated[bool, typer.Option("--answers", help="Instead: every stored LLM answer with its parent, as answers.jsonl for benchmarks/answer_acceptance.py.")] = False,
    runs_dir: RunsDir = Path("runs"),
    db: DbUrl = None,
) -> None:
    """Write the best program as a patch against the seed, the program file, and a JSON of evidence."""
    handle = open_run(run_ref, runs_dir, db)
    if answers:
        path = (out or handle.run_dir / "export") / "answers.jsonl"
        written, skipped = export_answers(handle.store, handle.run, path)
        note = f" ({skipped} without a recorded parent left out)" if skipped else ""
        _console().print(f"answers:  {path} ({written} answers{note})", soft_wrap=True)
        return
    prob = problem_of(handle)
    paths = export_best(handle.store, handle.run, prob.seed_path, out or handle.run_dir / "export")
    console = _console()
    console.print(f"patch:    {paths.patch}", soft_wrap=True)
    console.print(f"          apply in {paths.apply_in} with: git apply {paths.patch.resolve()}  (or patch -p1 -i ...)", soft_wrap=True)
    console.print(f"program:  {paths.program}")
    console.print(f"metadata: {paths.metadata}")


@app.command()
def report(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="Run name or run folder.")],
    out: Annotated[Optional[Path], typer.Option(help="HTML file to write (default: RUN_FOLDER/report.html).")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the report in the default web browser.")] = False,
    runs_dir: RunsDir = Path("runs"),
    db: DbUrl = None,
) -> None:
    """Write one self-contained HTML file (works offline): score curves, lineage with diffs, failures, spend, every candidate."""
    handle = open_run(run_ref, runs_dir, db)
    from evolve.html_report import write_report  # imports Plotly: slow, and only this command needs it

    if out is None:
        handle.run_dir.mkdir(parents=True, exist_ok=True)
    built = write_report(handle.store, handle.run, out or handle.run_dir / "report.html")
    _console().print(
        f"report: {built.path} ({built.size_bytes / 1e6:.1f} MB, {built.candidates} candidates, built in {built.seconds:.1f} s)",
        soft_wrap=True,
    )
    if open_browser:
        import webbrowser

        if not webbrowser.open(built.path.resolve().as_uri()):
            print(f"warning: found no web browser to open it; open {built.path} yourself", file=sys.stderr)


@app.command(name="eval")
def eval_cmd(
    problem: Annotated[str, typer.Argument(help="Problem folder, or the name of a shipped problem.")],
    file: Annotated[Path, typer.Argument(help="Program to score (e.g. a baseline).")],
    sandbox: SandboxOpt = "auto",
    timeout: Annotated[Optional[float], typer.Option(help="Wall-clock limit per stage, seconds.")] = None,
    as_json: JsonFlag = False,
    param: Annotated[Optional[list[str]], typer.Option("--param", help="Evaluator parameter KEY=VALUE, e.g. model=published, traces=PATH (repeatable).")] = None,
) -> None:
    """Score any program on every stage (train and held-out test) of a problem."""
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
    config = build_config({"timeout_seconds": prob.run_defaults.timeout_seconds, "memory_mb": prob.run_defaults.memory_mb}, {"sandbox": sandbox, "timeout_seconds": timeout})
    result = asyncio.run(_eval(prob, code, config))
    result["file"] = str(file)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table(title=f"{prob.name}: {file}")
    for col in ("stage", prob.objective.metric, "valid", "seconds", "note"):
        table.add_column(col)
    for stage, r in result["stages"].items():
        note = r["error"] or r["reason"] or ""
        table.add_row(stage, _num(r["score"]), "yes" if r["valid"] else "NO", f"{r['seconds']:.2f}", note[:80])
    _console().print(table)


async def _eval(prob, code: str, config: RunConfig) -> dict:
    sandbox = make_sandbox(config.sandbox)
    if getattr(sandbox, "note", ""):
        print(f"warning: sandbox {sandbox.name}: {sandbox.note}", file=sys.stderr)
    try:
        return await evaluate_program(prob, code, Scorer(prob, sandbox, config.limits()))
    finally:
        await sandbox.aclose()


@app.command()
def problems(
    as_json: JsonFlag = False,
    baselines: Annotated[bool, typer.Option("--baselines", help="Score each problem's seed and baselines on train and test (cached per problem version).")] = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="With --baselines: recompute even when cached.")] = False,
    sandbox: Annotated[str, typer.Option(help="With --baselines: sandbox backend (process).")] = "process",
    problems_dir: Annotated[Optional[Path], typer.Option("--problems-dir", help="With --baselines: folder of problem folders (default: the shipped ones).")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", envvar="EVOLVE_CACHE_DIR", help="With --baselines: where baselines.json is cached (default ~/.cache/evolve).")] = None,
) -> None:
    """List the shipped problems; with --baselines, score their seeds and baselines."""
    if baselines:
        _baselines(as_json, refresh, make_sandbox(build_config({}, {"sandbox": sandbox}).sandbox), problems_dir or shipped_root(), cache_dir)
        return
    rows = list_problems()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="problems")
    for col in ("name", "path", "objective", "baselines", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["path"], r["objective"], ", ".join(r["baselines"]), r["description"].split(":")[0][:50])
    _console().print(table)


def _baselines(as_json: bool, refresh: bool, box, root: Path, cache_dir: Path | None) -> None:
    problem_folders(root)  # a missing folder fails before any work
    cache = BaselineCache.open(cache_dir / "baselines.json" if cache_dir else default_cache_file())
    console, err = _console(), Console(stderr=True, highlight=False)
    if getattr(box, "note", ""):
        err.print(f"warning: sandbox {box.name}: {box.note}")

    async def go():
        try:
            return await collect(root, cache, box, refresh=refresh, progress=lambda line: err.print(line))
        finally:
            await box.aclose()

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
        console.print(table)
    broken = [r.name for r in results if r.error]
    if broken:
        raise UserError(f"{len(broken)} problem folder(s) did not load: {', '.join(broken)} (see the table)")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user mistakes into one line and exit code 2."""
    try:
        code = app(args=argv, prog_name="evolve", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except (UserError, SandboxUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except EvolveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a path the user named: a file where a folder should be, no permission...
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except Exception as exc:
        if not _is_usage_error(exc):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message())
            return 0
        message = " ".join(exc.format_message().split())
        print(f"error: {message}" if message else "error: see 'evolve --help'", file=sys.stderr)
        return 2
    return code if isinstance(code, int) else 0


def _is_usage_error(exc: Exception) -> bool:
    """Click's exceptions (typer vendors its own copy of click, so match by shape, not class)."""
    return hasattr(exc, "format_message") and hasattr(exc, "exit_code")


if __name__ == "__main__":
    sys.exit(main())
