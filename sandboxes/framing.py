"""The wire format between a backend and the in-sandbox runner: one JSON job in, framed lines out.

Shared by every backend so that the runner is the same everywhere. Frames carry a per-job nonce:
a line that merely looks like a frame (printed by the candidate, or guessed) is not one.

    job (stdin):  {"nonce", "evaluator": {"ref", "problem_dir", "params"}, "stages", "gate", "code"}
    frame:        @@EVOLVE-RESULT <nonce> {"stage", "result", "error", "detail", "seconds"}
    end:          @@EVOLVE-END <nonce>

The runner writes a newline before every frame so a partial line planted in front of it cannot
swallow it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from evaluators.protocol import EvaluatorRef, StageResult
from sandboxes.base import FAILURE_REASONS, Gate, SandboxJob, StageOutcome

RESULT_TAG = "@@EVOLVE-RESULT"
END_TAG = "@@EVOLVE-END"
DETAIL_CHARS = 2000


def encode_job(job: SandboxJob, nonce: str) -> bytes:
    """Serialise a job for the runner's stdin; raises TypeError/ValueError on unserialisable params."""
    gate = job.gate
    return json.dumps(
        {
            "nonce": nonce,
            "evaluator": {
                "ref": job.evaluator.ref,
                "problem_dir": job.evaluator.problem_dir,
                "params": job.evaluator.params,
            },
            "stages": list(job.stages),
            "gate": None
            if gate is None
            else {
                "stage": gate.stage,
                "after": gate.after,
                "metric": gate.metric,
                "maximize": gate.maximize,
                "threshold": gate.threshold,
            },
            "code": job.code,
        },
        allow_nan=False,
    ).encode("utf-8")


def decode_job(raw: bytes) -> tuple[str, SandboxJob]:
    """Parse the runner's stdin into (nonce, job); raises ValueError when it is not a job."""
    try:
        data = json.loads(raw)
        evaluator = data["evaluator"]
        gate = data["gate"]
        job = SandboxJob(
            code=_typed(data["code"], str),
            evaluator=EvaluatorRef(
                ref=_typed(evaluator["ref"], str),
                problem_dir=_typed(evaluator["problem_dir"], str),
                params=_typed(evaluator.get("params") or {}, dict),
            ),
            stages=tuple(_typed(s, str) for s in _typed(data["stages"], list)),
            gate=None
            if gate is None
            else Gate(
                stage=_typed(gate["stage"], str),
                after=_typed(gate["after"], str),
                metric=_typed(gate["metric"], str),
                maximize=_typed(gate.get("maximize", True), bool),
                threshold=None if gate.get("threshold") is None else float(gate["threshold"]),
            ),
        )
        return _typed(data["nonce"], str), job
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"malformed job: {exc!r}") from exc


def frame_payload(frame: StageOutcome) -> dict:
    return {
        "stage": frame.stage,
        "result": None if frame.result is None else frame.result.to_json(),
        "error": frame.error,
        "detail": frame.detail[-DETAIL_CHARS:],
        "seconds": frame.seconds,
    }


def result_line(nonce: str, frame: StageOutcome) -> bytes:
    return f"\n{RESULT_TAG} {nonce} {json.dumps(frame_payload(frame), allow_nan=False)}\n".encode("utf-8")


def end_line(nonce: str) -> bytes:
    return f"\n{END_TAG} {nonce}\n".encode("utf-8")


def gate_open(gate: Gate, results: dict[str, StageResult]) -> bool:
    """Whether the gated stage may run, given the results so far (a missing metric keeps it shut)."""
    after = results.get(gate.after)
    value = None if after is None else after.metrics.get(gate.metric)
    return value is not None and gate.passes(value)


@dataclass(frozen=True)
class Frames:
    """What a runner's stdout said: stage frames in order, whether it finished, and any breach.

    `problem` set means the frames cannot be trusted (forged, duplicated, out of order, malformed):
    the job is `invalid_output`, and `stages` holds only the frames before the breach.
    """

    stages: tuple[StageOutcome, ...]
    ended: bool
    problem: str | None = None


def parse_frames(data: bytes, nonce: str, job: SandboxJob) -> Frames:
    """Read frames for this nonce; lines with another nonce or no tag are ignored.

    Also checks the frames against what the runner must have done: requested stages, in order,
    none after a stop, the gate respected, and (once ended) no stage silently missing.
    """
    result_prefix = f"{RESULT_TAG} {nonce} ".encode()
    end_line_bytes = f"{END_TAG} {nonce}".encode()
    complete = data[: data.rfind(b"\n") + 1]  # a trailing partial line was cut mid-write
    frames: list[StageOutcome] = []
    for line in complete.split(b"\n"):
        if line == end_line_bytes:
            problem = _missing_at_end(frames, job)
            return Frames(tuple(frames), ended=True, problem=problem)
        if not line.startswith(result_prefix):
            continue
        try:
            frame = frame_from_json(line[len(result_prefix) :])
        except Exception as exc:  # untrusted bytes: RecursionError, OverflowError... never crash the host
            return Frames(tuple(frames), ended=False, problem=f"malformed frame: {type(exc).__name__}: {exc}"[:300])
        problem = _out_of_place(frame, frames, job)
        if problem:
            return Frames(tuple(frames), ended=False, problem=problem)
        frames.append(frame)
    return Frames(tuple(frames), ended=False)


def stops(frame: StageOutcome) -> bool:
    """The runner runs no stage after one that errored or came back invalid."""
    return frame.error is not None or frame.result is None or not frame.result.valid


def frame_from_json(raw: bytes) -> StageOutcome:
    """Parse one frame's JSON; raises on anything malformed (callers treat every exception so)."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError("frame is not an object")
    stage, error, detail, seconds = (data.get(k) for k in ("stage", "error", "detail", "seconds"))
    if not isinstance(stage, str):
        raise ValueError("frame has no stage name")
    if error is not None and error not in FAILURE_REASONS:
        raise ValueError(f"unknown error {error!r}")
    if not isinstance(detail, str):
        raise ValueError("frame detail is not a string")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(float(seconds)):
        raise ValueError("frame seconds is not a number")
    result = None
    if error is None:
        result = StageResult.from_json(data.get("result"))
    return StageOutcome(stage, result, error, detail[-DETAIL_CHARS:], float(seconds))


def _out_of_place(frame: StageOutcome, before: list[StageOutcome], job: SandboxJob) -> str | None:
    if frame.stage not in job.stages:
        return f"frame for unrequested stage {frame.stage!r}"
    if any(f.stage == frame.stage for f in before):
        return f"two frames for stage {frame.stage!r}"
    if before and stops(before[-1]):
        return f"frame for {frame.stage!r} after stage {before[-1].stage!r} stopped the job"
    index = job.stages.index(frame.stage)
    last = job.stages.index(before[-1].stage) if before else -1
    if index < last:
        return f"frame for {frame.stage!r} out of order"
    results = _results(before)
    for skipped in job.stages[last + 1 : index]:
        if not _gate_skipped(skipped, job, results):
            return f"stage {skipped!r} has no frame"
    if job.gate and frame.stage == job.gate.stage and not gate_open(job.gate, results):
        return f"stage {frame.stage!r} ran although its gate was shut"
    return None


def _missing_at_end(frames: list[StageOutcome], job: SandboxJob) -> str | None:
    if frames and stops(frames[-1]):
        return None
    last = job.stages.index(frames[-1].stage) if frames else -1
    results = _results(frames)
    for stage in job.stages[last + 1 :]:
        if not _gate_skipped(stage, job, results):
            return f"runner ended without a frame for stage {stage!r}"
    return None


def _gate_skipped(stage: str, job: SandboxJob, results: dict[str, StageResult]) -> bool:
    return job.gate is not None and stage == job.gate.stage and not gate_open(job.gate, results)


def _results(frames: list[StageOutcome]) -> dict[str, StageResult]:
    return {f.stage: f.result for f in frames if f.result is not None}


def _typed(value, kind: type):
    if not isinstance(value, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value
