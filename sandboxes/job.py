"""One job, on the trusted side: the candidate in a box, scored by the evaluator's stages.

The evaluator is trusted code running here, in the trusted worker; the candidate runs alone in
the box and is reached only through evaluators.candidate.Candidate. Stages run in cascade order;
the job stops at the first stage that fails or comes back invalid; a gated stage (the held-out
test, or a cascade stage behind one of the problem's gates) runs only when its gate passes, and a
shut gate ends the cascade there; every metric is checked against the declared ranges. A `fresh`
stage (train, and the held-out test) starts a new candidate process in the box: one that had
lived through smoke and train could count them and play differently when held out, and train and
test must start alike. All the parts of a job share its wall-clock budget.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import time
import traceback

from evaluators.candidate import Candidate, Session
from evaluators.protocol import Evaluator, StageResult
from sandboxes import wire
from sandboxes.base import Gate, Limits, Outcome, SandboxJob, StageOutcome
from sandboxes.box import Box, JobEnd
from sandboxes.errors import BoxBroken, CandidateFailed, SandboxUnavailable

DETAIL_CHARS = 2000
REASON_CHARS = 2000
FEEDBACK_CHARS = 4000


def run_job(evaluator: Evaluator, box: Box, job: SandboxJob, limits: Limits) -> Outcome:
    started = time.monotonic()
    unknown = [s for s in job.stages if s not in tuple(evaluator.stages)]
    if unknown:
        detail = f"the evaluator has no stage {', '.join(map(repr, unknown))}; it has {list(evaluator.stages)}"
        return Outcome(failure="evaluator_error", detail=detail)
    frames: list[StageOutcome] = []
    results: dict[str, StageResult] = {}
    gates = {g.stage: g for g in job.gates}
    gated, failure, stderr = None, None, ""
    for part in _parts(job):
        if part[0] in gates and not gate_open(gates[part[0]], results):
            gated = part[0]
            break
        remaining = limits.wall_seconds - (time.monotonic() - started)
        part_limits = limits if not frames else dataclasses.replace(limits, wall_seconds=max(remaining, 0.001))
        try:
            handle = box.start(part_limits)
        except (BoxBroken, SandboxUnavailable, OSError) as exc:
            detail = f"cannot start the candidate's process: {exc}"
            return Outcome(stages=tuple(frames), failure="sandbox_error", detail=detail, stderr_tail=stderr, wall_seconds=time.monotonic() - started)
        session = Session(handle.sock, started + limits.wall_seconds, wire.Limits(max_bytes=limits.max_output_bytes))
        done, gated = _stages(evaluator, session, job, part, gates, results)
        try:
            end = handle.end()
        except BoxBroken as exc:
            end = JobEnd(None, "broken", False, False, f"the sandbox's server failed after the job: {exc}", 0.0)
        done = _explained(done, end, part_limits)
        frames += done
        stderr = (stderr + end.stderr)[-limits.stderr_tail_bytes :] if limits.stderr_tail_bytes > 0 else ""
        failure = next((f for f in frames if f.error), None)
        if failure is None and end.stop == "broken":
            failure = StageOutcome(frames[-1].stage if frames else "", None, "crash", end.stderr)
        if failure or gated or len(done) < len(part) or not all(f.result is not None and f.result.valid for f in done):
            break
    return Outcome(
        stages=tuple(frames),
        failure=failure.error if failure else None,
        detail=failure.detail if failure else "",
        gated=None if failure else gated,
        stderr_tail=stderr,
        wall_seconds=time.monotonic() - started,
    )


def _parts(job: SandboxJob) -> list[tuple[str, ...]]:
    """The stages in runs of one candidate process each: a fresh stage starts a new one."""
    parts: list[list[str]] = []
    for stage in job.stages:
        if not parts or stage in job.fresh:
            parts.append([])
        parts[-1].append(stage)
    return [tuple(p) for p in parts]


def _stages(evaluator: Evaluator, session: Session, job: SandboxJob, stages: tuple[str, ...], gates: dict,
            results: dict[str, StageResult]) -> tuple[list[StageOutcome], str | None]:  # fmt: skip
    """The stages run in one candidate process, and the stage a shut gate kept from running (None:
    no gate shut); `results` collects the valid results, for the gates of later stages."""
    if not stages:
        return [], None
    started = time.perf_counter()
    try:
        names = session.load(job.code)
    except CandidateFailed as exc:
        return [StageOutcome(stages[0], None, exc.kind, exc.detail, time.perf_counter() - started)], None
    candidate = Candidate(session, names)
    frames: list[StageOutcome] = []
    for stage in stages:
        if stage in gates and not gate_open(gates[stage], results):
            return frames, stage
        frame = _run_stage(evaluator, stage, candidate, session, job.ranges)
        frames.append(frame)
        if frame.error or frame.result is None or not frame.result.valid:
            break
        results[stage] = frame.result
    return frames, None


def _run_stage(evaluator: Evaluator, stage: str, candidate: Candidate, session: Session, ranges) -> StageOutcome:
    started = time.perf_counter()
    try:
        result = evaluator.run_stage(stage, candidate)
    except CandidateFailed:
        pass  # recorded on the session, reported below
    except BaseException:  # the trusted evaluator itself failed: a bug to fix there, said plainly
        if session.failure is None:
            return StageOutcome(stage, None, "evaluator_error", _traceback(), time.perf_counter() - started)
    seconds = time.perf_counter() - started
    if session.failure is not None:  # whatever the evaluator did with it, the candidate failed
        return StageOutcome(stage, None, session.failure.kind, session.failure.detail[-DETAIL_CHARS:], seconds)
    if not isinstance(result, StageResult):
        return StageOutcome(stage, None, "evaluator_error", f"run_stage returned {type(result).__name__}, not StageResult", seconds)
    result = bounded(result)
    problem = _out_of_range(result, ranges) or _not_finite(result)
    if problem:
        return StageOutcome(stage, None, "invalid_output", problem, seconds)
    return StageOutcome(stage, result, None, "", seconds)


def bounded(result: StageResult) -> StageResult:
    """Reason and feedback often quote the candidate's answers: keep what is stored and sent small."""
    reason = result.reason if result.reason is None else str(result.reason)[:REASON_CHARS]
    return dataclasses.replace(result, reason=reason, feedback=str(result.feedback)[:FEEDBACK_CHARS])


def gate_open(gate: Gate, results: dict[str, StageResult]) -> bool:
    """Whether the gated stage may run, given the results so far (a missing metric keeps it shut)."""
    after = results.get(gate.after)
    value = None if after is None else after.metrics.get(gate.metric)
    return value is not None and gate.passes(value)


def _out_of_range(result: StageResult, ranges) -> str | None:
    for name, low, high in ranges:
        value = result.metrics.get(name)
        if value is not None and not low <= value <= high:
            return f"metric {name!r} = {value!r} is outside its declared range [{low:g}, {high:g}]"
    return None


def _not_finite(result: StageResult) -> str | None:
    for name, value in result.metrics.items():
        if not isinstance(name, str) or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"metric {name!r} = {value!r} is not a finite number"
    return None


def _explained(frames: list[StageOutcome], end: JobEnd, limits: Limits) -> list[StageOutcome]:
    """A candidate whose process died or stalled mid-stage shows as a crash or a timeout; the box's
    report says why (an OOM kill in the job explains either)."""
    if not frames or frames[-1].error not in ("crash", "timeout"):
        return frames
    last = frames[-1]
    if end.oom:
        return [*frames[:-1], StageOutcome(last.stage, None, "memory", f"out of memory: the {limits.memory_mb} MB limit killed the candidate's processes", last.seconds)]
    if last.error != "crash" or not _died(last.detail):
        return frames
    cpu_kill = end.returncode == -signal.SIGKILL and last.seconds >= limits.cpu_seconds  # past the soft limit, the hard one
    if end.stop == "timeout" or end.returncode == -signal.SIGXCPU or cpu_kill:
        return [*frames[:-1], StageOutcome(last.stage, None, "timeout", f"the candidate ran past its time limit ({limits.wall_seconds:g}s wall, {limits.cpu_seconds}s CPU)", last.seconds)]
    if end.returncode is not None and end.returncode < 0:
        name = _signal_name(-end.returncode)
        return [*frames[:-1], StageOutcome(last.stage, None, "crash", f"the candidate's process was killed by {name}\n{end.stderr[-1000:]}", last.seconds)]
    if end.returncode is not None:
        return [*frames[:-1], StageOutcome(last.stage, None, "crash", f"the candidate's process exited with code {end.returncode} mid-call\n{end.stderr[-1000:]}", last.seconds)]
    return frames


def _died(detail: str) -> bool:
    return detail.startswith("the candidate's process ended")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _traceback() -> str:
    try:
        return "the evaluator raised:\n" + traceback.format_exc()[-DETAIL_CHARS:]
    except MemoryError:
        return "the evaluator raised MemoryError"
