"""JSON between the controller and a trusted worker (both trusted): jobs and limits in, outcomes out."""

from __future__ import annotations

import dataclasses
import json

from evaluators.protocol import EvaluatorRef, StageResult
from sandboxes.base import Gate, Limits, Outcome, SandboxJob, StageOutcome


def job_to_json(job: SandboxJob, limits: Limits) -> bytes:
    data = {
        "code": job.code,
        "evaluator": evaluator_to_json(job.evaluator),
        "stages": list(job.stages),
        "gates": [dataclasses.asdict(g) for g in job.gates],
        "ranges": [list(r) for r in job.ranges],
        "fresh": list(job.fresh),
        "limits": dataclasses.asdict(limits),
    }
    return json.dumps(data, allow_nan=False).encode() + b"\n"


def job_from_json(line: bytes) -> tuple[SandboxJob, Limits]:
    data = json.loads(line)
    job = SandboxJob(
        code=data["code"],
        evaluator=evaluator_from_json(data["evaluator"]),
        stages=tuple(data["stages"]),
        gates=tuple(Gate(**g) for g in data["gates"]),
        ranges=tuple((str(n), float(lo), float(hi)) for n, lo, hi in data["ranges"]),
        fresh=tuple(data.get("fresh", ())),
    )
    return job, Limits(**data["limits"])


def evaluator_to_json(ref: EvaluatorRef) -> dict:
    return {"ref": ref.ref, "problem_dir": ref.problem_dir, "params": ref.params, "salt": ref.salt}


def evaluator_from_json(data: dict) -> EvaluatorRef:
    salt = data.get("salt")
    return EvaluatorRef(ref=data["ref"], problem_dir=data["problem_dir"], params=dict(data.get("params") or {}), salt=salt)


def outcome_to_json(outcome: Outcome) -> bytes:
    data = {
        "stages": [_stage_to_json(s) for s in outcome.stages],
        "failure": outcome.failure,
        "detail": outcome.detail,
        "gated": outcome.gated,
        "stderr_tail": outcome.stderr_tail,
        "wall_seconds": outcome.wall_seconds,
    }
    return json.dumps(data, allow_nan=False).encode() + b"\n"


def outcome_from_json(line: bytes) -> Outcome:
    data = json.loads(line)
    return Outcome(
        stages=tuple(_stage_from_json(s) for s in data["stages"]),
        failure=data["failure"],
        detail=data["detail"],
        gated=data["gated"],
        stderr_tail=data["stderr_tail"],
        wall_seconds=data["wall_seconds"],
    )


def _stage_to_json(frame: StageOutcome) -> dict:
    return {
        "stage": frame.stage,
        "result": None if frame.result is None else frame.result.to_json(),
        "error": frame.error,
        "detail": frame.detail,
        "seconds": frame.seconds,
    }


def _stage_from_json(data: dict) -> StageOutcome:
    result = None if data["result"] is None else StageResult.from_json(data["result"])
    return StageOutcome(data["stage"], result, data["error"], data["detail"], data["seconds"])
