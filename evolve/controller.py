"""The steady-state evolution loop: keep `workers` iterations in flight, commit in iteration order.

Determinism: iteration j is planned (island, parent, inspirations, duplicate snapshot, test gate)
right after iteration j - workers is applied, and results are applied strictly in iteration
order. So with a fixed seed and a deterministic proposer the lineage depends only on the seed and
the number of workers, not on which evaluation finishes first, and resume replays the same
plans. (A candidate that runs close to its wall-clock timeout can still time out on one run and
not on another: that is the one input that depends on machine load.)
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from evolve.config import RunConfig
from evolve.errors import ProblemError, ProposerError, RunHalted, StoreError
from evolve.events import EventSink, IterationDone, Migrated, ReferenceScored, Resumed, RunEnded, RunStarted, Warned
from evolve.lineage import Lineage, dimensions
from evolve.preflight import seed_passes
from evolve.problem import Problem
from evolve.proposal_records import feedback_of, improvement_of, proposal_record
from evolve.proposers.base import Proposal, Proposer
from evolve.requests import build_request
from evolve.children import candidate_from_verdict, make_child
from evolve.scoring import Scorer
from evolve.selection.islands import Population
from evolve.selection.sampling import SamplingPolicy, pick
from evolve.store import Store
from evolve.store.records import CandidateRecord, ProposalRecord, ReferenceRecord, RunInfo
from evolve.terminal import last_line
from evolve.verdict import Verdict
from evolve.watch import Watch


@dataclass(frozen=True)
class Plan:
    """Everything decided for one iteration at dispatch time, from the snapshot it may see."""

    iteration: int
    island: int
    parent: CandidateRecord
    inspirations: tuple[CandidateRecord, ...]
    seen_upto: int
    threshold: float | None
    failed: CandidateRecord | None = None


@dataclass(frozen=True)
class RunResult:
    state: str  # finished | stopped | failed (the run cannot do its job: the reason says what to fix)
    reason: str
    iterations_done: int
    best: CandidateRecord | None


class Controller:
    def __init__(
        self,
        *,
        run: RunInfo,
        problem: Problem,
        config: RunConfig,
        store: Store,
        proposer: Proposer,
        scorer: Scorer,
        sink: EventSink,
        clock: Callable[[], float] = time.monotonic,
        seed_verdict: Verdict | None = None,
    ):
        """seed_verdict: the seed as the pre-flight checks scored it (same scorer), not scored again."""
        self.run_info, self.problem, self.config, self.store = run, problem, config, store
        self.seed_verdict = seed_verdict
        self.watch = Watch(config.max_failed_calls)
        self.proposer, self.scorer, self.sink, self.clock = proposer, scorer, sink, clock
        self.sampling = SamplingPolicy(config.exploration_ratio, config.exploitation_ratio, config.inspirations)
        self.lineage = Lineage(
            Population(config.islands, dimensions(problem), config.archive_size),
            problem.objective.maximize,
            config.migration_interval,
        )
        self._stop = asyncio.Event()
        self._stop_reason = ""
        self._stop_state = "stopped"
        self._deadline: float | None = None
        self._halt_at: int | None = None  # a budget refused this iteration: finish those before it
        self._halt_reason = ""
        self._paid: dict[int, ProposalRecord] = {}  # proposals made but not yet committed
        self._proposing: set[int] = set()  # iterations inside a proposer call right now
        self._dropped: list[asyncio.Task] = []  # cancelled after a halt, awaited at the end

    def request_stop(self, reason: str = "interrupted", state: str = "stopped") -> None:
        """Stop dispatching, cancel what is in flight; committed iterations stay."""
        if not self._stop.is_set():
            self._stop_reason, self._stop_state = reason, state
            self._stop.set()

    async def run(self) -> RunResult:
        self.store.set_state(self.run_info.id, "running")
        try:
            result = await self._run()
        except ProblemError:
            self.store.set_state(self.run_info.id, "failed")
            raise
        except BaseException:
            with contextlib.suppress(StoreError):  # a full disk: the write that failed is the news
                self.store.set_state(self.run_info.id, "stopped")
            raise
        self.store.set_state(self.run_info.id, result.state)
        self.sink.emit(RunEnded(result.state, result.reason))
        return result

    async def _run(self) -> RunResult:
        if self.config.max_time_seconds:
            self._deadline = self.clock() + self.config.max_time_seconds
        history = self.store.candidates(self.run_info.id)
        spent = self.store.proposal_totals(self.run_info.id)
        self.sink.emit(
            RunStarted(
                run=self.run_info.name,
                problem=self.problem.name,
                requested=self.config.iterations,
                done=max(0, len(history) - 1),
                proposer=self.proposer.name,
                proposer_note=getattr(self.proposer, "note", ""),
                sandbox=self.scorer.sandbox_name,
                sandbox_note=self.scorer.sandbox_note,
                workloads=self.config.workloads if self.config.workload_salt is not None else "public",
                workers=self.config.workers,
                islands=self.config.islands,
                maximize=self.problem.objective.maximize,
                max_cost_usd=self.config.max_cost_usd,
                max_tokens=self.config.max_tokens,
                spent_usd=spent["cost_usd"],
                spent_tokens=int(spent["tokens_in"] + spent["tokens_out"]),
                calls=int(spent["calls"]),
            )
        )
        if not history:
            start = asyncio.ensure_future(self._start())
            if not await self._until_stopped(start):
                return RunResult("stopped", self._stop_reason, 0, None)
            history = [start.result()]
        else:
            for ref in self.store.references(self.run_info.id):
                self.sink.emit(ReferenceScored(ref.name, ref.stage, ref.score))
        plans: list[Plan] = []
        made_by = self.store.committed_proposals(self.run_info.id) if len(history) > 1 else {}
        for record in history:
            parent = self.lineage.records.get(record.parent_id) if record.parent_id is not None else None
            self.lineage.apply(record)
            if record.iteration in made_by:
                self._observe(record, parent, made_by[record.iteration])
            plans.extend(self._plans_after(record.iteration, skip_upto=history[-1].iteration))
        if len(history) > 1:
            self.sink.emit(self._resumed(history))
        if self.lineage.best is not None and self._target_reached(self.lineage.best):
            self.request_stop(f"target score {self.config.target_score} reached")
        return await self._loop(plans)

    def _resumed(self, history: list[CandidateRecord]) -> Resumed:
        best = self.lineage.best
        islands = ((i.index, b.score) for i in self.lineage.population.islands if (b := i.best()) is not None)
        improvements, record = 0, None
        for c in history:
            if c.status == "valid" and c.score is not None and (record is None or self.lineage.fitness(c.score) > record):
                improvements, record = improvements + (c.iteration > 0), self.lineage.fitness(c.score)
        return Resumed(
            seed_score=history[0].score, best_score=best.score if best else None, best_iteration=best.iteration if best else None,
            best_test_score=best.test_score if best else None,
            statuses=tuple(Counter(c.status for c in history).items()),
            failures=tuple(Counter(c.failure_reason for c in history if c.failure_reason).items()),
            island_best=tuple(islands), improvements=improvements,
        )

    def _remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - self.clock())

    async def _until_stopped(self, task: asyncio.Future) -> bool:
        """Wait for `task` unless a stop request or the time budget comes first (then cancel it)."""
        stop_waiter = asyncio.ensure_future(self._stop.wait())
        try:
            done, _ = await asyncio.wait([task, stop_waiter], timeout=self._remaining(), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_waiter.cancel()
        if task in done:
            task.result()  # re-raise what the task raised
            return True
        if not done:
            self.request_stop("time budget reached")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False

    # start: the seed and the baselines --------------------------------------------------------

    async def _start(self) -> CandidateRecord:
        """Score the seed and the baselines (all stages, `workers` at a time) and commit the seed."""
        slots = asyncio.Semaphore(self.config.workers)

        async def score(code: str):
            async with slots:
                return await self.scorer.score(code, threshold=None)

        baselines = [p.read_text(encoding="utf-8") for p in self.problem.baselines.values()]
        programs = baselines if self.seed_verdict else [self.problem.seed_code, *baselines]
        verdicts = await asyncio.gather(*(score(code) for code in programs))
        seed_verdict, baseline_verdicts = (self.seed_verdict, verdicts) if self.seed_verdict else (verdicts[0], verdicts[1:])
        seed_passes(self.problem, seed_verdict)
        refs = []
        for name, verdict in zip(self.problem.baselines, baseline_verdicts):
            for ev in verdict.evaluations:
                score = ev.metrics.get(self.problem.objective.metric) if ev.valid and not ev.error else None
                refs.append(ReferenceRecord(name, ev.stage, score, ev.valid and not ev.error, ev.metrics))
                self.sink.emit(ReferenceScored(name, ev.stage, score))
        self.store.save_references(self.run_info.id, refs)
        seed = candidate_from_verdict(seed_verdict, self.problem, self.problem.seed_code, iteration=0, island=0, parent=None)
        seed = self.store.commit_iteration(self.run_info.id, seed, None, new_best=True)
        self.sink.emit(IterationDone(0, 0, seed.status, None, seed.score, True, "seed", 0.0, seed.test_score))
        return seed

    # planning -------------------------------------------------------------------------------

    def _plans_after(self, applied: int, skip_upto: int) -> list[Plan]:
        """Iterations to dispatch once `applied` is in: 1..W after the seed, then applied + W."""
        workers = self.config.workers
        wanted = range(1, workers + 1) if applied == 0 else (applied + workers,)
        return [self._plan(j) for j in wanted if skip_upto < j <= self.config.iterations]

    def _plan(self, iteration: int) -> Plan:
        island = (iteration - 1) % self.config.islands
        rng = random.Random(f"{self.config.seed}:{iteration}:select")
        chosen = pick(self.lineage.population.islands[island], self.sampling, rng)
        records = self.lineage.records
        best = self.lineage.best
        return Plan(
            iteration=iteration,
            island=island,
            parent=records[chosen.parent.id],
            inspirations=tuple(records[m.id] for m in chosen.inspirations),
            seen_upto=self.lineage.applied,
            threshold=best.score if best is not None else None,
            failed=self.lineage.last_failed.get(island),
        )

    # the loop -------------------------------------------------------------------------------

    async def _loop(self, plans: list[Plan]) -> RunResult:
        tasks: dict[int, asyncio.Task] = {}
        finished: dict[int, tuple[CandidateRecord, ProposalRecord]] = {}
        stop_waiter = asyncio.ensure_future(self._stop.wait())

        def launch(new: list[Plan]) -> None:
            for plan in new:
                tasks[plan.iteration] = asyncio.ensure_future(self._iterate(plan))

        launch(plans)
        try:
            while tasks and not self._stop.is_set():
                waiting = [*tasks.values(), stop_waiter]
                done, _ = await asyncio.wait(waiting, timeout=self._remaining(), return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    self.request_stop("time budget reached")
                    break
                for iteration in [i for i, t in tasks.items() if t.done()]:
                    result = tasks.pop(iteration).result()
                    if result is None and iteration not in self._paid:
                        self._halt(iteration, finished)  # refused: no call was made
                    elif result is not None and (self._halt_at is None or iteration < self._halt_at):
                        finished[iteration] = result
                while self.lineage.applied + 1 in finished and not self._stop.is_set():
                    new = self._commit(*finished.pop(self.lineage.applied + 1))
                    launch([] if self._halt_at is not None else new)
                if self._halt_at is not None:
                    self._drop_after_halt(tasks)
                    if self.lineage.applied >= self._halt_at - 1 and not any(i > self._halt_at for i in tasks):
                        self.request_stop(self._halt_reason)
        finally:
            stop_waiter.cancel()
            for task in tasks.values():
                task.cancel()
            for task in [*tasks.values(), *self._dropped]:
                with contextlib.suppress(BaseException):
                    await task
            self._save_uncommitted()
        done = self.lineage.applied
        complete = done >= self.config.iterations and self._stop_state != "failed"
        reason = "all iterations done" if complete and not self._stop_reason else self._stop_reason or "stopped"
        return RunResult("finished" if complete else self._stop_state, reason, done, self.lineage.best)

    def _halt(self, iteration: int, finished: dict) -> None:
        """The proposer refused `iteration`: earlier iterations finish and commit, later ones are dropped."""
        self._halt_at = iteration if self._halt_at is None else min(self._halt_at, iteration)
        for later in [i for i in finished if i > self._halt_at]:
            del finished[later]

    def _drop_after_halt(self, tasks: dict[int, asyncio.Task]) -> None:
        """Cancel later iterations, except those inside a proposer call: a call being paid for
        finishes, so its cost is stored (as an uncommitted proposal) rather than lost."""
        for later in [i for i in tasks if i > self._halt_at and i not in self._proposing]:
            self._dropped.append(tasks.pop(later))
            self._dropped[-1].cancel()

    def _save_uncommitted(self) -> None:
        """Calls already paid for iterations that will not be committed stay on the books."""
        orphans = sorted((i, p) for i, p in self._paid.items() if i > self.lineage.applied)
        self._paid.clear()
        self.store.save_uncommitted_proposals(self.run_info.id, orphans)

    def _observe(self, candidate: CandidateRecord, parent: CandidateRecord | None, proposal: ProposalRecord) -> None:
        self.proposer.observe(feedback_of(candidate, parent, proposal, self.problem.objective.maximize))

    def _commit(self, candidate: CandidateRecord, proposal: ProposalRecord) -> list[Plan]:
        parent = self.lineage.records.get(candidate.parent_id) if candidate.parent_id is not None else None
        candidate = replace(candidate, improvement=improvement_of(candidate, parent, self.problem.objective.maximize))
        new_best = self.lineage.is_better(candidate)
        stored = self.store.commit_iteration(self.run_info.id, candidate, proposal, new_best)
        self._paid.pop(stored.iteration, None)
        moves = self.lineage.apply(stored)
        self._observe(stored, parent, proposal)
        seconds = sum(e.seconds for e in stored.evaluations)
        self.sink.emit(
            IterationDone(
                stored.iteration,
                stored.island,
                stored.status,
                stored.failure_reason,
                stored.score,
                new_best,
                stored.summary,
                seconds,
                stored.test_score,
                model=proposal.model,
                cost_usd=proposal.cost_usd,
                tokens=proposal.tokens_in + proposal.tokens_out,
                detail=last_line(stored.failure_detail) if stored.failure_detail else "",
            )
        )
        alarm = self.watch.observe(stored, proposal)
        if alarm is not None and alarm.stop:
            self.request_stop(alarm.text, state="failed")
        elif alarm is not None:
            self.sink.emit(Warned(stored.iteration, alarm.text))
        if moves:
            self.sink.emit(Migrated(stored.iteration, tuple(moves)))
        if new_best and self._target_reached(stored):
            self.request_stop(f"target score {self.config.target_score} reached")
        return self._plans_after(stored.iteration, skip_upto=stored.iteration)

    def _target_reached(self, candidate: CandidateRecord) -> bool:
        target = self.config.target_score
        if target is None or candidate.score is None:
            return False
        return candidate.score >= target if self.problem.objective.maximize else candidate.score <= target

    async def _iterate(self, plan: Plan) -> tuple[CandidateRecord, ProposalRecord] | None:
        """One iteration's child, or None: the proposer halted the run, or a halt dropped this one."""
        request = build_request(plan, self.problem, self.config.seed)
        started = self.clock()
        self._proposing.add(plan.iteration)
        try:
            proposal = await self.proposer.propose(request)
        except RunHalted as exc:
            self._halt_reason = self._halt_reason or str(exc)
            return None
        except ProposerError as exc:
            proposal = Proposal(code=None, proposer=self.proposer.name, failure="proposer_error", detail=str(exc))
        finally:
            self._proposing.discard(plan.iteration)
        record = proposal_record(proposal, plan.parent.id, proposal.latency_s or (self.clock() - started))
        self._paid[plan.iteration] = record
        if self._halt_at is not None and plan.iteration > self._halt_at:
            return None  # a halt came while this call ran: keep the call, skip the evaluation
        candidate = await make_child(plan, proposal, self.lineage, self.scorer, self.problem)
        return candidate, record
