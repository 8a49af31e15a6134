"""Wiring: create or open a run, build its parts, and drive the controller.

This is the one place that constructs collaborators (store, sandbox, proposer, scorer) and
hands them to the controller; reading `execute` shows the architecture.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from evolve.config import RunConfig
from evolve.controller import Controller, RunResult
from evolve.errors import ConfigError, RunNotFound, UserError
from evolve.events import EventSink
from evolve.problem import Problem, load_problem
from evolve.proposers.base import Proposer
from evolve.proposers.llm.budget import Ledger
from evolve.proposers.llm.cassette import Cassette, Recorder
from evolve.proposers.llm.pricing import PriceTable
from evolve.proposers.llm.prompting import PromptBuilder
from evolve.proposers.llm.proposer import LlmProposer
from evolve.proposers.llm.keys import api_key
from evolve.proposers.offline import OfflineMutator
from evolve.scoring import Scorer
from evolve.store import RunInfo, Store, default_db_url
from sandboxes.base import Sandbox
from sandboxes.choose import availability, check_available, make_sandbox as build_sandbox
from sandboxes.hardening import not_dumpable
from sandboxes.errors import SandboxUnavailable

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class RunHandle:
    store: Store
    run: RunInfo
    run_dir: Path


def new_run_name(problem: Problem) -> str:
    return f"{problem.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def create_run(problem: Problem, config: RunConfig, runs_root: Path, name: str | None, db_url: str | None) -> RunHandle:
    name = name or new_run_name(problem)
    if not _NAME.match(name):
        raise ConfigError(f"run name {name!r} may only use letters, digits, '.', '_' and '-'")
    run_dir = runs_root / name
    if db_url is None and (run_dir / "evolve.db").exists():
        raise UserError(f"run {name!r} already exists in {run_dir}; use 'evolve resume {name}' or another --name")
    run_dir.mkdir(parents=True, exist_ok=True)
    store = Store(db_url or default_db_url(run_dir))
    run = store.create_run(name, problem.name, str(problem.root), problem.version(), config.model_dump(mode="json"))
    return RunHandle(store, run, run_dir)


def open_run(ref: str, runs_root: Path, db_url: str | None) -> RunHandle:
    """Find a run by name (under runs_root, or in --db) or by the path of its folder."""
    as_path = Path(ref)
    if db_url is None:
        run_dir = as_path if (as_path / "evolve.db").is_file() else runs_root / ref
        if not (run_dir / "evolve.db").is_file():
            raise RunNotFound(f"no run {ref!r}: expected {run_dir / 'evolve.db'} (see --runs-dir, --db)")
        store = Store(default_db_url(run_dir))
        runs = store.runs()
        if not runs:
            raise RunNotFound(f"{run_dir / 'evolve.db'} holds no run")
        return RunHandle(store, runs[0], run_dir)
    store = Store(db_url)
    run = store.run(as_path.name)
    return RunHandle(store, run, runs_root / run.name)


def list_runs(runs_root: Path, db_url: str | None) -> list[tuple[Store, RunInfo]]:
    """Every run in --db, or in each run folder under runs_root."""
    if db_url is not None:
        store = Store(db_url)
        return [(store, run) for run in store.runs()]
    found = []
    for db_file in sorted(runs_root.glob("*/evolve.db")):
        store = Store(default_db_url(db_file.parent))
        found.extend((store, run) for run in store.runs())
    return found


def make_sandbox(name: str) -> Sandbox:
    """The named backend (`auto`: docker, else bwrap, else process with a loud note).

    With the process backend, candidates run as this user's neighbours: this process is made
    non-dumpable, so they cannot read its memory, environment (API keys) or descriptors via /proc.
    """
    try:
        sandbox = build_sandbox(name)
    except SandboxUnavailable as exc:
        raise UserError(f"sandbox {name}: {exc}") from exc
    if sandbox.name == "process":
        not_dumpable()
    return sandbox


def check_sandbox(config: RunConfig) -> None:
    """Fail with one line, before a run is created or resumed, if the chosen backend can't run here,
    or if LLM-written code would end up unisolated without the user having asked for that."""
    try:
        check_available(config.sandbox)
    except SandboxUnavailable as exc:
        raise UserError(f"sandbox {config.sandbox}: {exc}") from exc
    if config.proposer == "llm" and config.sandbox == "auto":
        found = availability()
        if found.docker and found.bwrap:
            raise UserError(
                f"no isolating sandbox here (docker: {found.docker}; bwrap: {found.bwrap}); LLM-written code "
                "would run as your user. Install bubblewrap or build the docker image (evolve sandbox build), "
                "or pass --sandbox process to accept that"
            )


REPLAYED_SETTINGS = ("seed", "workers", "islands", "migration_interval", "iterations", "exploration_ratio",
                     "exploitation_ratio", "inspirations", "archive_size", "workloads", "workload_salt")


def make_proposer(config: RunConfig, problem: Problem, handle: RunHandle, record: Path | None = None) -> Proposer:
    """The offline mutator, or the LLM ensemble (live, or replaying a cassette) with its ledger."""
    if config.llm is None:
        return OfflineMutator()
    settings = config.llm
    spent = handle.store.proposal_totals(handle.run.id)
    ledger = Ledger(
        config.max_cost_usd,
        config.max_tokens,
        float(spent["cost_usd"]),
        int(spent["tokens_in"]) + int(spent["tokens_out"]),
    )
    prompts = PromptBuilder(problem.name, problem.description, problem.objective.metric, problem.objective.maximize, problem.root)
    prices = PriceTable.load(settings.prices)
    if settings.replay:
        return LlmProposer(settings, prompts, prices, ledger, cassette=Cassette(Path(settings.replay)))
    from evolve.proposers.llm.providers import make_client  # the SDKs are slow to import

    clients = {spec.name: make_client(spec) for spec in settings.models}
    header = {
        "run_name": handle.run.name,
        "settings": settings.model_dump(mode="json", exclude={"replay"}),
        "run": {k: getattr(config, k) for k in REPLAYED_SETTINGS},
    }
    resuming = handle.store.candidate_at(handle.run.id, 0) is not None
    recorder = Recorder(record, header, resume=resuming) if record else None
    return LlmProposer(settings, prompts, prices, ledger, clients=clients, recorder=recorder)


def check_llm(config: RunConfig) -> None:
    """Before a run starts: every live model has its key, and a cost budget has prices to count."""
    if config.llm is None or config.llm.replay:
        return
    prices = PriceTable.load(config.llm.prices)
    for spec in config.llm.models:
        api_key(spec, dict(os.environ))
        if config.max_cost_usd is not None and prices.price(spec.name) is None:
            raise ConfigError(
                f"--max-cost needs a price for {spec.name}, which the shipped table lacks: "
                f'add it under [llm.prices], e.g. "{spec.name}" = [input_usd_per_m, output_usd_per_m]'
            )


@contextmanager
def run_lock(run_dir: Path):
    """One process drives a run at a time; a second `run`/`resume` of it fails with one line."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "run.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"run in {run_dir} is being driven by another process right now") from None
        yield


async def execute(
    handle: RunHandle, problem: Problem, config: RunConfig, sink: EventSink, record: Path | None = None
) -> RunResult:
    """Run (or continue) the evolution until done, stopped by a budget, or interrupted.

    Callers that may race another process for the same run hold `run_lock` around this.
    `record` appends every LLM call to that cassette file.
    """
    proposer = make_proposer(config, problem, handle, record)
    try:
        sandbox = make_sandbox(config.sandbox)
    except BaseException:
        await proposer.aclose()
        raise
    controller = Controller(
        run=handle.run,
        problem=problem,
        config=config,
        store=handle.store,
        proposer=proposer,
        scorer=Scorer(problem, sandbox, config.limits(), config.workload_salt),
        sink=sink,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, controller.request_stop, "interrupted")
    try:
        return await controller.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await proposer.aclose()
        await sandbox.aclose()


def problem_of(handle: RunHandle) -> Problem:
    path = Path(handle.run.problem_path)
    if not path.exists():
        raise UserError(f"run {handle.run.name!r} was made from {path}, which no longer exists")
    return load_problem(path)


def config_of(handle: RunHandle) -> RunConfig:
    return RunConfig.model_validate(handle.run.config)
