"""Wiring: the one place that builds a run's parts and closes them.

`scoring` builds the executor (trusted workers on this machine, or Ray actors on a cluster, each
owning a sandbox of the chosen backend) and the scorer over it: run, resume, eval, check and the
baselines all score through it. `drive` adds the proposer (offline, live LLMs, or a replayed
cassette) and the controller over the run's store, and drives it. Reading `start_run`, `execute`,
`scoring` and `drive` shows the architecture. Where runs live (folders, --db, locks) is
evolve.run_folders.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
from collections.abc import Callable
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from evolve.config import RunConfig
from evolve.loop.controller import Controller, RunResult
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
from sandboxes.base import Executor
from sandboxes.choose import availability, backend_spec, check_available
from sandboxes.errors import SandboxUnavailable
from sandboxes.hardening import not_dumpable

Log = Callable[[str], None]


def make_executor(config: RunConfig, problem: Problem | None = None, log: Log | None = None) -> Executor:
    """Where evaluations run: `config.workers` trusted workers on this machine, or as many Ray
    actors on a cluster (`--executor ray`), each with a sandbox of the configured backend (`auto`:
    docker, else bwrap, else process with a loud note) carrying the problem's sandbox packages.

    With the process backend, candidates run as this user's neighbours: this process is made
    non-dumpable, so they cannot read its memory, environment (API keys) or descriptors via /proc.
    """
    spec = problem.sandbox if problem is not None else None
    try:
        backend, note = backend_spec(config.sandbox, spec.image if spec else None, packages=spec.packages if spec else (), log=log)
    except SandboxUnavailable as exc:
        raise UserError(f"sandbox {config.sandbox}: {exc}") from exc
    if config.executor == "ray":
        from sandboxes.ray_pool import RayPool

        try:
            executor: Executor = RayPool(backend, config.workers, config.ray_address, note)
        except SandboxUnavailable as exc:
            raise UserError(f"executor ray: {exc}") from exc
    else:
        from sandboxes.pool import WorkerPool

        executor = WorkerPool(backend, note=note, slots=config.workers)
    if backend.name == "process":
        not_dumpable()
    return executor


def check_sandbox(config: RunConfig, problem: Problem) -> None:
    """Fail with one line, before a run is created or resumed, if the chosen backend can't run here,
    or if LLM-written code would end up unisolated without the user having asked for that (and on
    a Ray cluster never: there the process backend is for the offline proposer only). With
    Ray, the backend is checked here and must be ready on every node (README: Run on a Ray cluster)."""
    if config.executor == "ray" and importlib.util.find_spec("ray") is None:
        raise UserError("--executor ray needs Ray: pip install 'evolve-systems[ray]'")
    if config.executor == "ray" and config.proposer == "llm" and config.sandbox == "process":
        raise UserError(
            "--executor ray with --sandbox process: LLM-written code would run unisolated on the cluster's nodes, "
            "with the network, and Ray has no authentication (it could run code on every node); use --sandbox "
            "docker or bwrap, ready on every node"
        )
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
                     "exploitation_ratio", "inspirations", "archive_size", "workloads", "workload_salt", "order",
                     "llm_concurrency")  # fmt: skip


@dataclass(frozen=True)
class ProposerParts:
    proposer: Proposer
    schedule: list[tuple[int, int]] | None = None  # a replayed run's recorded commits, to follow
    journal: Callable[[int, int], None] | None = None  # hears every commit, to record it


def make_proposer(config: RunConfig, problem: Problem, handle: RunHandle, record: Path | None = None) -> ProposerParts:
    """The offline mutator, or the LLM ensemble (live, or replaying a cassette) with its ledger."""
    if config.llm is None:
        return ProposerParts(OfflineMutator())
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
        cassette = Cassette(Path(settings.replay))
        return ProposerParts(LlmProposer(settings, prompts, prices, ledger, cassette=cassette), schedule=cassette.schedule())
    from evolve.proposers.llm.providers import make_client  # the SDKs are slow to import

    clients = {spec.name: make_client(spec) for spec in settings.models}
    header = {
        "run_name": handle.run.name,
        "settings": settings.model_dump(mode="json", exclude={"replay"}),
        "run": {k: getattr(config, k) for k in REPLAYED_SETTINGS},
    }
    resuming = handle.store.candidate_at(handle.run.id, 0) is not None
    recorder = Recorder(record, header, resume=resuming) if record else None
    proposer = LlmProposer(settings, prompts, prices, ledger, clients=clients, recorder=recorder)
    return ProposerParts(proposer, journal=recorder.commit if recorder else None)


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
    async with scoring(problem, config, log) as scorer:
        seed = await preflight(problem, scorer)
        handle = create_run(problem, config.model_dump(mode="json"), place, name)
        with run_lock(handle), view() as sink:
            return handle, await drive(handle, problem, config, scorer, sink, record, seed)


async def execute(handle: RunHandle, problem: Problem, config: RunConfig, sink: EventSink, record: Path | None = None) -> RunResult:
    """Continue a run until done, stopped by a budget, or interrupted (callers that may race another
    process for it hold `run_lock`). `record` appends every LLM call to that cassette file."""
    async with scoring(problem, config) as scorer:
        return await drive(handle, problem, config, scorer, sink, record)


@asynccontextmanager
async def scoring(problem: Problem, config: RunConfig, log: Log | None = None) -> AsyncIterator[Scorer]:
    """The executor and the scorer over it (the run's private workloads, its limits), closed on
    the way out even when Ctrl-C came: workers are not cut off mid-close."""
    executor = make_executor(config, problem, log)
    try:
        yield Scorer(problem, executor, config.limits(), config.workload_salt)
    finally:
        with _on_interrupt(lambda: None):
            await executor.aclose()


async def drive(
    handle: RunHandle,
    problem: Problem,
    config: RunConfig,
    scorer: Scorer,
    sink: EventSink,
    record: Path | None = None,
    seed: Verdict | None = None,
) -> RunResult:
    """The proposer and the controller over the run's store, driven until the run ends. Ctrl-C
    stops the run; while it winds down, more Ctrl-C are absorbed so the resume hint is printed."""
    parts = make_proposer(config, problem, handle, record)
    controller = Controller(
        run=handle.run, problem=problem, config=config, store=handle.store, proposer=parts.proposer, scorer=scorer,
        sink=sink, schedule=parts.schedule, journal=parts.journal, seed_verdict=seed,
    )  # fmt: skip
    with _on_interrupt(lambda: controller.request_stop("interrupted")):
        try:
            return await controller.run()
        finally:
            await parts.proposer.aclose()


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


def problem_of(handle: RunHandle) -> Problem:
    path = Path(handle.run.problem_path)
    if not path.exists():
        raise UserError(f"run {handle.run.name!r} was made from {path}, which no longer exists")
    return load_problem(path)


def config_of(handle: RunHandle) -> RunConfig:
    return RunConfig.model_validate(handle.run.config)
