"""The in-sandbox entry point: load the evaluator, then the candidate, run stages, report frames.

Started by a backend as `python -s -P -m sandboxes.runner` in a fresh work dir, the job on stdin.
Results go out on a private duplicate of the original stdout; fd 1 is pointed at stderr before any
untrusted code runs, so nothing the candidate prints reaches the result channel, and frames carry a
nonce the candidate is never handed.

Candidate, evaluator and runner share this process (a policy is called per simulator tick; a
process boundary per call would cost more than the simulation). So code that could introspect
frames, open file descriptors or import the evaluator could forge a result: `evolve.guard`
rejects such code before it is ever run here, and the backend's isolation protects the host.
"""

from __future__ import annotations

import importlib.util
import mmap
import os
import sys
import time
import traceback
from collections.abc import Iterator
from types import ModuleType

from evaluators.loading import load_evaluator
from evaluators.protocol import Evaluator, StageResult
from sandboxes.base import SandboxJob, StageOutcome
from sandboxes.framing import DETAIL_CHARS, decode_job, end_line, gate_open, result_line, stops

CANDIDATE_FILE = "candidate.py"
RESERVE_BYTES = 8 << 20  # address space freed on MemoryError so the report itself can still be written


def main() -> int:
    raw = sys.stdin.buffer.read()
    _detach_stdin()
    channel = _private_channel()
    try:
        nonce, job = decode_job(raw)
    except ValueError as exc:
        print(f"runner: {exc}", file=sys.stderr)
        return 2
    del raw
    for frame in _run(job):
        _write(channel, result_line(nonce, frame))
    _write(channel, end_line(nonce))
    return 0


def _run(job: SandboxJob) -> Iterator[StageOutcome]:
    """Frames in stage order; nothing after the first stage that errors or comes back invalid."""
    if not job.stages:
        return
    first = job.stages[0]
    evaluator = _load_evaluator(job)
    if isinstance(evaluator, str):
        yield StageOutcome(first, None, "sandbox_error", evaluator)
        return
    reserve = [mmap.mmap(-1, RESERVE_BYTES)]  # counts against RLIMIT_AS without touching 8 MB of pages
    candidate = _import_candidate(job.code, first, reserve)
    if isinstance(candidate, StageOutcome):
        yield candidate
        return
    results: dict[str, StageResult] = {}
    for stage in job.stages:
        if job.gate and stage == job.gate.stage and not gate_open(job.gate, results):
            continue
        frame = _run_stage(evaluator, stage, candidate, reserve)
        yield frame
        if stops(frame):
            return
        results[stage] = frame.result


def _run_stage(evaluator: Evaluator, stage: str, candidate: ModuleType, reserve: list) -> StageOutcome:
    started = time.perf_counter()
    try:
        raw = evaluator.run_stage(stage, candidate)
    except MemoryError:
        reserve.clear()
        return StageOutcome(stage, None, "memory", _traceback_tail(), time.perf_counter() - started)
    except BaseException:  # RecursionError, SystemExit from sys.exit(), anything the candidate raises
        return StageOutcome(stage, None, "crash", _traceback_tail(), time.perf_counter() - started)
    seconds = time.perf_counter() - started
    if not isinstance(raw, StageResult):
        detail = f"run_stage returned {type(raw).__name__}, not StageResult"
        return StageOutcome(stage, None, "invalid_output", detail, seconds)
    try:
        result = StageResult.from_json(raw.to_json())  # the same checks the backend will apply
    except Exception as exc:
        return StageOutcome(stage, None, "invalid_output", f"bad StageResult: {exc}", seconds)
    return StageOutcome(stage, result, None, "", seconds)


def _load_evaluator(job: SandboxJob) -> Evaluator | str:
    """The evaluator, or why the job cannot run: the caller's mistake, caught before the candidate loads."""
    if job.evaluator.problem_dir not in sys.path:
        sys.path.insert(0, job.evaluator.problem_dir)  # `module:attr` refs and the evaluator's helpers
    try:
        evaluator = load_evaluator(job.evaluator)
    except BaseException:
        return "evaluator failed to load:\n" + _traceback_tail()
    known = tuple(evaluator.stages)
    unknown = [s for s in job.stages if s not in known]
    if unknown:
        return f"evaluator has no stage(s) {unknown}; it has {list(known)}"
    if len(set(job.stages)) != len(job.stages):
        return f"stages repeat: {list(job.stages)}"
    gate = job.gate
    if gate and gate.stage in job.stages and gate.after not in job.stages[: job.stages.index(gate.stage)]:
        return f"gate on {gate.stage!r} needs stage {gate.after!r} to run before it"
    return evaluator


def _import_candidate(code: str, first: str, reserve: list) -> ModuleType | StageOutcome:
    """The candidate module, or a frame for the first stage saying why it would not import."""
    started = time.perf_counter()
    try:
        return _exec_candidate(code)
    except MemoryError:
        reserve.clear()
        detail, error = "candidate import ran out of memory:\n" + _traceback_tail(), "memory"
    except BaseException:  # SyntaxError, SystemExit, anything raised at import time
        detail, error = "candidate failed to import:\n" + _traceback_tail(), "crash"
    return StageOutcome(first, None, error, detail, time.perf_counter() - started)


def _exec_candidate(code: str) -> ModuleType:
    path = os.path.join(os.getcwd(), CANDIDATE_FILE)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(code)
    spec = importlib.util.spec_from_file_location("candidate", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["candidate"] = module
    spec.loader.exec_module(module)
    return module


def _private_channel() -> int:
    """Keep the real stdout for frames only; everything written to fd 1 or sys.stdout goes to stderr."""
    channel = os.dup(1)  # dup'd descriptors are non-inheritable: spawned programs do not get it
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return channel


def _detach_stdin() -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _traceback_tail() -> str:
    try:
        return traceback.format_exc()[-DETAIL_CHARS:]
    except MemoryError:
        return "MemoryError (no memory left to format the traceback)"


if __name__ == "__main__":
    raise SystemExit(main())
