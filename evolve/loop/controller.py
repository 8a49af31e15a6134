"""The evolution: plans drawn from the population, proposals made children, children folded back in.

The Controller implements the scheduler's steps (evolve.loop.scheduler.Steps): `plan` (an island,
a parent and inspirations picked from the population as it is now, with the snapshot recorded),
`propose` (the request the proposer sees), `evaluate` (the child checked, deduped against that
snapshot and scored), `commit` (stored in one transaction, folded into the population, observed
by the proposer, announced). When each runs is the scheduler's business, in which order the
order's (evolve.loop.orders). With a deterministic proposer in iteration order, the lineage
depends only on the seed and --workers; in completion order every plan's snapshot and every
commit is recorded, so a cassette replay reproduces the lineage.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from evolve.config import RunConfig
from evolve.errors import ProblemError, ProposerError, RunHalted, StoreError
from evolve.events import EventSink, IterationDone, Migrated, ReferenceScored, RunEnded, RunStarted, Warned
from evolve.lineage import Lineage, dimensions
from evolve.loop.children import candidate_from_verdict, make_child
from evolve.loop.orders import make_order
from evolve.loop.plan import Finished, Plan, Proposed
from evolve.loop.records_cache import RecordsCache
from evolve.loop.requests import build_request
from evolve.loop.resume import replay
from evolve.loop.scheduler import Scheduler
from evolve.loop.stopping import Stop, StopState
from evolve.preflight import seed_passes
from evolve.problem import Problem
from evolve.proposal_records import call_summary, feedback_of, improvement_of, outcome_text, proposal_record
from evolve.proposers.base import Proposal, Proposer
from evolve.scoring import Scorer
from evolve.selection.islands import Population
from evolve.selection.sampling import SamplingPolicy, pick
from evolve.store import Store
from evolve.store.records import LineageEntry, ReferenceRecord, RunInfo, entry_of
from evolve.terminal import last_line
from evolve.verdict import Verdict
from evolve.watch import Watch

Journal = Callable[[int, int], None]  # (iteration, the seen_upto of its plan), called at each commit


@dataclass(frozen=True)
class RunResult:
    state: str  # finished | stopped | failed (the run cannot do its job: the reason says what to fix)
    reason: str
    iterations_done: int
    best: LineageEntry | None


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
        schedule: list[tuple[int, int]] | None = None,
        journal: Journal | None = None,
        clock: Callable[[], float] = time.monotonic,
        seed_verdict: Verdict | None = None,
    ):
        """schedule: a recorded run's commits to follow (a replay); journal: hears every commit (a
        recording); seed_verdict: the seed as the pre-flight checks scored it (not scored again)."""
        self.run_info, self.problem, self.config, self.store = run, problem, config, store
        self.proposer, self.scorer, self.sink, self.clock = proposer, scorer, sink, clock
        self.seed_verdict, self.journal, self._schedule = seed_verdict, journal, schedule
        self.watch = Watch(config.max_failed_calls)
        self.sampling = SamplingPolicy(config.exploration_ratio, config.exploitation_ratio, config.inspirations)
        islands = Population(config.islands, dimensions(problem), config.archive_size)
        self.lineage = Lineage(islands, problem.objective.maximize, config.migration_interval)
        self.records = RecordsCache(store)
        self.stop = Stop(clock, config.max_time_seconds)

    @property
    def applied(self) -> int:
        return self.lineage.applied

    def request_stop(self, reason: str = "interrupted", state: StopState = "stopped") -> None:
        """Stop dispatching, cancel what is in flight; committed iterations stay."""
        self.stop.request(reason, state)

    async def run(self) -> RunResult:
        self.store.set_state(self.run_info.id, "running")
        try:
            result = await self._run()
        except ProblemError:
            self.store.set_state(self.run_info.id, "failed")
            raise
        except BaseException:
            try:
                self.store.set_state(self.run_info.id, "stopped")
            except StoreError:  # a full disk: the write that failed is the news
                pass
            raise
        self.store.set_state(self.run_info.id, result.state)
        self.sink.emit(RunEnded(result.state, result.reason))
        return result

    async def _run(self) -> RunResult:
        run_id = self.run_info.id
        done = self.store.run(self.run_info.name).iterations_done
        self.sink.emit(self._started(max(0, done)))
        if done < 0:
            if not await self.stop.until(asyncio.ensure_future(self._start())):
                return RunResult("stopped", self.stop.reason, 0, None)
            done = 0
        else:
            for ref in self.store.references(run_id):
                self.sink.emit(ReferenceScored(ref.name, ref.stage, ref.score))
        todo = set(range(1, self.config.iterations + 1)) - self.store.committed_iterations(run_id)
        order = make_order(self.config, todo, self._schedule)
        plans, tally = replay(self.store, run_id, done, self.lineage, order, self.plan, self.proposer.observe)
        if done > 0:
            self.sink.emit(tally.resumed(self.lineage))
        if self.lineage.best is not None and self._target_reached(self.lineage.best):
            self.request_stop(f"target score {self.config.target_score} reached")
        scheduler = Scheduler(self, order, self.stop, calls=self.config.calls(), slots=self.config.workers)
        scheduler.start(plans)
        await scheduler.run()
        complete = scheduler.complete and self.stop.state != "failed"
        reason = "all iterations done" if complete and not self.stop.reason else self.stop.reason or "stopped"
        return RunResult("finished" if complete else self.stop.state, reason, self.lineage.applied, self.lineage.best)

    def _started(self, done: int) -> RunStarted:
        spent = self.store.proposal_totals(self.run_info.id)
        config = self.config
        return RunStarted(
            run=self.run_info.name, problem=self.problem.name, requested=config.iterations, done=done,
            proposer=self.proposer.name, proposer_note=getattr(self.proposer, "note", ""),
            sandbox=self.scorer.sandbox_name, sandbox_note=self.scorer.sandbox_note,
            workloads=config.workloads if config.workload_salt is not None else "public",
            workers=config.workers, llm_concurrency=config.calls(), order=config.commit_order(), islands=config.islands,
            maximize=self.problem.objective.maximize, max_cost_usd=config.max_cost_usd, max_tokens=config.max_tokens,
            spent_usd=spent["cost_usd"], spent_tokens=int(spent["tokens_in"] + spent["tokens_out"]), calls=int(spent["calls"]),
        )  # fmt: skip

    async def _start(self) -> None:
        """Score the seed and the baselines (all stages, `workers` at a time) and commit the seed."""
        slots = asyncio.Semaphore(self.config.workers)

        async def score(code: str) -> Verdict:
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
        seed = candidate_from_verdict(seed_verdict, self.problem, self.problem.seed_code, iteration=0, island=0, position=0)
        seed = self.store.commit_iteration(self.run_info.id, seed, None, new_best=True)
        self.sink.emit(IterationDone(0, 0, seed.status, None, seed.score, True, "seed", 0.0, seed.test_score))

    # the steps the scheduler runs ----------------------------------------------------------------

    def plan(self, iteration: int) -> Plan:
        island = (iteration - 1) % self.config.islands
        rng = random.Random(f"{self.config.seed}:{iteration}:select")
        chosen = pick(self.lineage.population.islands[island], self.sampling, rng)
        best = self.lineage.best
        return Plan(
            iteration=iteration,
            island=island,
            parent=chosen.parent,
            inspirations=chosen.inspirations,
            seen_upto=self.lineage.applied,
            threshold=best.score if best is not None else None,
            failed=self.lineage.last_failed.get(island),
        )

    async def propose(self, plan: Plan) -> Proposed:
        parent = self.records.get(plan.parent.id)
        inspirations = tuple(self.records.get(m.id) for m in plan.inspirations)
        failed = self.records.get(plan.failed.id) if plan.failed is not None else None
        request = build_request(plan, parent, inspirations, failed, self.problem, self.config.seed)
        started = self.clock()
        try:
            proposal = await self.proposer.propose(request)
        except RunHalted:
            raise  # a budget or a replay's end: the scheduler halts the run here
        except ProposerError as exc:
            proposal = Proposal(code=None, proposer=self.proposer.name, failure="proposer_error", detail=str(exc))
        record = proposal_record(proposal, parent.id, proposal.latency_s or (self.clock() - started))
        return Proposed(plan, parent, proposal, record)

    async def evaluate(self, proposed: Proposed) -> Finished:
        candidate = await make_child(proposed, self._seen_before, self.scorer, self.problem)
        return Finished(proposed.plan, candidate, proposed.record)

    def _seen_before(self, code_hash: str, norm_hash: str, upto: int) -> str | None:
        return self.store.seen_before(self.run_info.id, code_hash, norm_hash, upto)

    def commit(self, finished: Finished) -> None:
        plan, proposal = finished.plan, finished.record
        maximize = self.problem.objective.maximize
        candidate = replace(
            finished.candidate, position=self.lineage.applied + 1, improvement=improvement_of(finished.candidate, plan.parent.score, maximize)
        )
        new_best = self.lineage.is_better(candidate)
        stored = self.store.commit_iteration(self.run_info.id, candidate, proposal, new_best)
        entry = entry_of(stored)
        moves = self.lineage.apply(entry)
        self.proposer.observe(feedback_of(entry, call_summary(proposal), proposal.new_variant, *outcome_text(stored)))
        if self.journal is not None:
            self.journal(stored.iteration, plan.seen_upto)
        self._announce(stored, proposal, new_best, moves)

    def _announce(self, stored, proposal, new_best: bool, moves: list) -> None:
        """Events for the live view; the watch's alarms; a reached target stops the run."""
        seconds = sum(e.seconds for e in stored.evaluations)
        self.sink.emit(
            IterationDone(
                stored.iteration, stored.island, stored.status, stored.failure_reason, stored.score, new_best, stored.summary,
                seconds, stored.test_score, model=proposal.model, cost_usd=proposal.cost_usd,
                tokens=proposal.tokens_in + proposal.tokens_out,
                detail=last_line(stored.failure_detail) if stored.failure_detail else "",
            )
        )  # fmt: skip
        alarm = self.watch.observe(stored, proposal)
        if alarm is not None and alarm.stop:
            self.request_stop(alarm.text, state="failed")
        elif alarm is not None:
            self.sink.emit(Warned(stored.iteration, alarm.text))
        if moves:
            self.sink.emit(Migrated(stored.iteration, tuple(moves)))
        if new_best and self._target_reached(stored):
            self.request_stop(f"target score {self.config.target_score} reached")

    def keep_uncommitted(self, paid: list[Proposed]) -> None:
        """Calls already paid for iterations that will not be committed stay on the books."""
        self.store.save_uncommitted_proposals(self.run_info.id, [(p.iteration, p.record) for p in paid])

    def _target_reached(self, candidate) -> bool:
        target = self.config.target_score
        if target is None or candidate.score is None:
            return False
        return candidate.score >= target if self.problem.objective.maximize else candidate.score <= target

