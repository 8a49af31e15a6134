"""Wiring: build a run's parts, check the problem, create the run, and drive the controller.

This is the one place that constructs collaborators (sandbox, proposer, scorer, store) and
hands them to the controller; reading `start_run` and `execute` shows the architecture. Where
runs live (folders, --db, locks) is evolve.run_folders.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from evolve.config import RunConfig
from evolve.controller import Controller, RunResult
from evolve.errors import ConfigError, UserError
from evolve.events import EventSink
from evolve.preflight import preflight
from evolve.problem import Problem, load_problem
from evolve.proposers.base import Proposer
from evolve.proposers.llm.budget import Ledger
from evolve.proposers.llm.cassette import Cassette, Recorder
from evolve.proposers.llm.pricing import PriceTable
from evolve.proposers.llm.prompting import PromptBuilder
from evolve.proposers.llm.proposer import LlmProposer
from evolve.proposers.llm.keys import api_key
from evolve.proposers.offline import OfflineMutator
from evolve.run_folders import RunHandle, RunPlace, check_new, create_run, run_lock
from evolve.scoring import Scorer
from evolve.verdict import Verdict
from sandboxes.base import Sandbox
from sandboxes.choose import availability, check_available, make_sandbox as build_sandbox
from sandboxes.hardening import not_dumpable
from sandboxes.errors import SandboxUnavailable

Log = Callable[[str], None]


def make_sandbox(name: str, problem: Problem | None = None, log: Log | None = None) -> Sandbox:
    """The named backend (`auto`: docker, else bwrap, else process with a loud note), with the
    problem's sandbox packages and image (problem.toml [sandbox]).

    With the process backend, candidates run as this user's neighbours: this process is made
    non-dumpable, so they cannot read its memory, environment (API keys) or descriptors via /proc.
    """
    spec = problem.sandbox if problem is not None else None
    try:
        sandbox = build_sandbox(name, spec.image if spec else None, packages=spec.packages if spec else (), log=log)
    except SandboxUnavailable as exc:
        raise UserError(f"sandbox {name}: {exc}") from exc
    if sandbox.name == "process":
        not_dumpable()
    return sandbox


def check_sandbox(config: RunConfig, problem: Problem) -> None:
    """Fail with one line, before a run is created or resumed, if the chosen backend can't run here,
    or if LLM-written code would end up unisolated without the user having asked for that."""
    try:
        check_available(config.sandbox, problem.sandbox.image)
    except SandboxUnavailable as exc:
        raise UserError(f"sandbox {config.sandbox}: {exc}") from exc
    if config.proposer == "llm" and config.sandbox == "auto":
        found = availability(problem.sandbox.image)
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


async def start_run(
    problem: Problem,
    config: RunConfig,
    place: RunPlace,
    name: str,
    view: Callable[[], AbstractContextManager[EventSink]],
    record: Path | None = None,
    log: Log | None = None,
) -> tuple[RunHandle, RunResult]:
    """Check the problem in the run's own sandbox, then create the run and drive it.

    A problem that fails a check (evolve.preflight) raises ProblemError before anything is
    stored; the seed's verdict from the check is the run's iteration 0.
    """
    check_new(place, name)
    sandbox = make_sandbox(config.sandbox, problem, log)
    try:
        scorer = Scorer(problem, sandbox, config.limits(), config.workload_salt)
        seed = await preflight(problem, scorer)
        handle = create_run(problem, config.model_dump(mode="json"), place, name)
        with run_lock(handle), view() as sink:
            return handle, await execute(handle, problem, config, sink, record, sandbox, seed)
    finally:
        with _on_interrupt(lambda: None):  # a Ctrl-C while the workers close must not cut them off
            await sandbox.aclose()


@contextmanager
def _on_interrupt(callback: Callable[[], None]):
    """Ctrl-C and SIGTERM call `callback` here. Once one came, the user has asked to stop: more
    Ctrl-C while the run winds down and prints its last lines are ignored, so they cannot cut
    off the workers' closing, the final lines or the resume hint."""
    loop = asyncio.get_running_loop()
    came, before = [], signal.getsignal(signal.SIGINT)

    def heard() -> None:
        came.append(True)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        callback()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, heard)
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        signal.signal(signal.SIGINT, signal.SIG_IGN if came else before)


async def execute(
    handle: RunHandle,
    problem: Problem,
    config: RunConfig,
    sink: EventSink,
    record: Path | None = None,
    sandbox: Sandbox | None = None,
    seed: Verdict | None = None,
) -> RunResult:
    """Run (or continue) the evolution until done, stopped by a budget, or interrupted.

    Callers that may race another process for the same run hold `run_lock` around this.
    `record` appends every LLM call to that cassette file. Without `sandbox`, one is built here
    and closed at the end. Ctrl-C stops the run; while it winds down, more Ctrl-C are absorbed,
    so the workers close cleanly and the resume hint is printed.
    """
    own = sandbox is None
    sandbox = sandbox or make_sandbox(config.sandbox, problem)
    try:
        proposer = make_proposer(config, problem, handle, record)
    except BaseException:
        if own:
            await sandbox.aclose()
        raise
    controller = Controller(
        run=handle.run,
        problem=problem,
        config=config,
        store=handle.store,
        proposer=proposer,
        scorer=Scorer(problem, sandbox, config.limits(), config.workload_salt),
        sink=sink,
        seed_verdict=seed,
    )
    with _on_interrupt(lambda: controller.request_stop("interrupted")):
        try:
            return await controller.run()
        finally:
            await proposer.aclose()
            if own:
                await sandbox.aclose()


def problem_of(handle: RunHandle) -> Problem:
    path = Path(handle.run.problem_path)
    if not path.exists():
        raise UserError(f"run {handle.run.name!r} was made from {path}, which no longer exists")
    return load_problem(path)


def config_of(handle: RunHandle) -> RunConfig:
    return RunConfig.model_validate(handle.run.config)
