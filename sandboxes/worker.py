"""A trusted worker: the evaluator's process, on the host side of the sandbox.

Started by the controller's WorkerPool as `python -m sandboxes.worker`; never runs candidate code.
It loads the problem's evaluator once (so workloads are built once, not per job), owns one box
of its backend (a warm container or bwrap sandbox, or a process factory), and scores jobs one at
a time, each with the candidate alone in the box (sandboxes.job). It makes itself non-dumpable,
so no process of the same user (a candidate in the process backend) can read its memory.

    stdin:   one JSON line {"evaluator": {...}, "backend": {...}}, then one job per line
    stdout:  one outcome per line (sandboxes.messages); the evaluator's own prints go to stderr
"""

from __future__ import annotations

import gc
import json
import os
import resource
import signal
import sys
import traceback
from dataclasses import dataclass

from evaluators.loading import load_evaluator
from sandboxes import hardening
from sandboxes.base import Limits, Outcome
from sandboxes.errors import SandboxUnavailable
from sandboxes.job import run_job
from sandboxes.messages import evaluator_from_json, job_from_json, outcome_to_json

WORKER_MEMORY_MB = 8192  # address space of one trusted worker: evaluator, workloads, decoded answers



@dataclass(frozen=True)
class BackendSpec:
    """Which backend a worker builds, as the controller chose it."""

    name: str
    image: str | None = None
    max_uses: int | None = None
    packages: str | None = None  # bwrap, process: the folder of the problem's sandbox packages

    def to_json(self) -> dict:
        return {"name": self.name, "image": self.image, "max_uses": self.max_uses, "packages": self.packages}


def build_backend(spec: BackendSpec):
    options = {} if spec.max_uses is None else {"max_uses": spec.max_uses}
    if spec.name == "docker":
        from sandboxes.container import DockerBackend

        return DockerBackend(image=spec.image, **options)
    if spec.name == "bwrap":
        from sandboxes.bwrap import BwrapBackend

        return BwrapBackend(packages=spec.packages, **options)
    if spec.name == "process":
        from sandboxes.process import ProcessBackend

        return ProcessBackend(packages=spec.packages)
    raise SandboxUnavailable(f"unknown sandbox backend {spec.name!r}")


class Worker:
    def __init__(self, evaluator, backend):
        self.evaluator, self.backend = evaluator, backend
        self.box, self.box_limits = None, None

    def score(self, job, limits: Limits) -> Outcome:
        try:
            box = self._box(limits)
        except SandboxUnavailable as exc:
            return Outcome(failure="sandbox_error", detail=str(exc))
        outcome = run_job(self.evaluator, box, job, limits)
        if box.broken or box.uses >= self.backend.max_uses:  # broken: the job left something behind
            self.retire()
        gc.freeze()  # the workloads built for this job live on: the collector need not rescan them
        return outcome

    def _box(self, limits: Limits):
        wanted = (limits.memory_mb, limits.max_processes)
        if self.box is not None and self.box_limits != wanted:
            self.retire()
        if self.box is None:
            self.box, self.box_limits = self.backend.open(limits), wanted
        return self.box

    def prepare(self, limits: Limits) -> None:
        """Start the next box while the controller is busy elsewhere (best effort)."""
        try:
            self._box(limits)
        except SandboxUnavailable:
            pass

    def retire(self) -> None:
        if self.box is not None:
            box, self.box = self.box, None
            box.close()


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the controller decides when work stops
    hardening.not_dumpable()
    _cap_memory()
    replies = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # the evaluator's prints must not corrupt the replies
    sys.stdout = sys.stderr
    config = json.loads(sys.stdin.buffer.readline())
    worker, refusal = start_worker(config)
    for line in sys.stdin.buffer:
        job, limits = job_from_json(line)
        outcome = refusal if worker is None else worker.score(job, limits)
        replies.write(outcome_to_json(outcome))
        if worker is not None:
            worker.prepare(limits)
    if worker is not None:
        worker.retire()
    return 0


def _cap_memory() -> None:
    """The trusted side decodes and judges what candidates send: bound what that can cost the host."""
    cap = WORKER_MEMORY_MB * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def start_worker(config: dict) -> tuple[Worker | None, Outcome | None]:
    """The worker, or None and the outcome of every job (an evaluator that does not load...)."""
    ref = evaluator_from_json(config["evaluator"])
    if ref.problem_dir not in sys.path:
        sys.path.insert(0, ref.problem_dir)  # `module:attr` refs and the evaluator's helpers
    try:
        evaluator = load_evaluator(ref)
    except BaseException:
        return None, Outcome(failure="evaluator_error", detail="the evaluator failed to load:\n" + traceback.format_exc()[-2000:])
    try:
        backend = build_backend(BackendSpec(**config["backend"]))
    except SandboxUnavailable as exc:
        return None, Outcome(failure="sandbox_error", detail=f"sandbox unavailable: {exc}")
    return Worker(evaluator, backend), None


if __name__ == "__main__":
    raise SystemExit(main())
