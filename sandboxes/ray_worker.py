"""A trusted worker as a Ray actor: the same Worker the local pool runs, in a process Ray places.

The actor loads the evaluator once and owns one box of its backend on its own node
(sandboxes.worker.Worker), and scores one job at a time. Jobs and outcomes cross as the JSON the
local workers speak (sandboxes.messages), so nothing but plain data travels, the run's workload
salt inside the job's evaluator reference. When the node lacks the problem folder at the path the
driver uses, the actor unpacks the copy it was sent into a folder of its own.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile

from sandboxes import hardening
from sandboxes.messages import job_from_json, outcome_to_json
from sandboxes.worker import start_worker

MAX_FOLDER_BYTES = 32 << 20  # a problem folder sent along to nodes without it (larger: share it instead)


def pack_folder(folder: str) -> bytes | None:
    """The problem folder as a gzipped tar (None when it is too large to send with every actor)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=".", filter=lambda info: None if "__pycache__" in info.name else info)
    data = buffer.getvalue()
    return data if len(data) <= MAX_FOLDER_BYTES else None


def unpack_folder(data: bytes) -> str:
    """A copy of a problem folder in a fresh temp folder, for a node that does not have it."""
    folder = tempfile.mkdtemp(prefix="evolve-problem-")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(folder, filter="data")
        else:  # an older 3.11: we packed it ourselves, but refuse anything leaving the folder
            if any(m.name.startswith(("/", "..")) or "/../" in m.name or m.issym() or m.islnk() for m in tar.getmembers()):
                raise ValueError("refusing a problem folder archive with links or paths outside it")
            tar.extractall(folder)
    return folder


class TrustedWorker:
    """Wrapped by ray.remote in sandboxes.ray_pool (this module does not import ray)."""

    def __init__(self, config: dict, folder: bytes | None = None):
        hardening.not_dumpable()
        evaluator = dict(config["evaluator"])
        if not os.path.isdir(evaluator["problem_dir"]) and folder is not None:
            evaluator["problem_dir"] = unpack_folder(folder)
        self.worker, self.refusal = start_worker({**config, "evaluator": evaluator})

    def score(self, line: bytes) -> bytes:
        job, limits = job_from_json(line)
        outcome = self.refusal if self.worker is None else self.worker.score(job, limits)
        return outcome_to_json(outcome)

    def pid(self) -> int:
        return os.getpid()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.retire()
