"""The seam between the loop and the executor: score one program, get a Verdict back."""

from __future__ import annotations

import dataclasses

from evolve.problem import Problem
from evolve.verdict import Verdict, judge
from sandboxes.base import Executor, Gate, Limits, Outcome, SandboxJob


class Scorer:
    """Runs the problem's cascade (and the gated test stage) for a program in the sandbox."""

    def __init__(self, problem: Problem, executor: Executor, limits: Limits, workload_salt: int | None = None):
        """workload_salt: a run's private workloads (evolve.workloads); None: the public ones."""
        self.problem, self.executor, self.limits = problem, executor, limits
        self.evaluator = dataclasses.replace(problem.evaluator_ref, salt=workload_salt)

    @property
    def sandbox_name(self) -> str:
        return self.executor.name

    @property
    def sandbox_note(self) -> str:
        return getattr(self.executor, "note", "")

    def job(self, code: str, threshold: float | None, stages: tuple[str, ...] | None = None) -> SandboxJob:
        """A job for the cascade behind the problem's gates, where the test stage runs only if train
        beats `threshold`; or for exactly `stages`, ungated."""
        problem = self.problem
        if stages is not None:
            return SandboxJob(code=code, evaluator=self.evaluator, stages=stages, ranges=problem.ranges)
        metric, maximize = problem.objective.metric, problem.objective.maximize
        gates = [Gate(stage, after, metric, maximize, threshold=at_least, inclusive=True) for stage, after, at_least in problem.stage_gates]
        if problem.evaluator.test_stage:
            gates.append(Gate(problem.evaluator.test_stage, problem.train_stage, metric, maximize, threshold=threshold))
        # train and the held-out test each in a candidate process of its own: a process that saw
        # smoke and train first would know it is held out, and one that starts with test would too
        fresh = tuple(s for s in (problem.train_stage, problem.evaluator.test_stage) if s)
        return SandboxJob(code=code, evaluator=self.evaluator, stages=problem.all_stages, gates=tuple(gates), ranges=problem.ranges, fresh=fresh)

    async def score(self, code: str, threshold: float | None) -> Verdict:
        return judge(await self.run(self.job(code, threshold)), self.problem)

    async def run(self, job: SandboxJob) -> Outcome:
        """The backend's outcome; a backend that raises is a `sandbox_error`, never a dead run."""
        try:
            return await self.executor.run(job, self.limits)
        except Exception as exc:  # noqa: BLE001 - the seam: whatever a backend raises stops here
            return Outcome(failure="sandbox_error", detail=f"{type(exc).__name__}: {exc}"[:2000])
