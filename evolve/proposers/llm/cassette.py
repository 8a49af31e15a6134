"""Record and replay: every LLM call of a run in a JSON-lines file, answered back without a network.

Line 1 is a header with the ensemble settings (model specs hold key *variable names*, never keys).
Each further line is one proposal call: iteration, model, the full request, a hash of it, the
final reply or error, every attempt, tokens, dollars and latency; or one commit, in the order the
run committed them, with the commit position its plan had seen. Replay looks calls up by
(iteration, request hash) and follows the recorded commits (evolve.loop.orders.RecordedOrder):
each iteration is planned from the same snapshot, so it asks the same question and gets the same
answer, and the lineage is reproduced whatever order the replay's own evaluations finish in. A
question that was never recorded stops the replay, naming the iteration.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from evolve.errors import ConfigError
from evolve.proposers.llm.wire import ChatReply, ChatRequest

FORMAT = 1


def request_hash(model: str, request: ChatRequest) -> str:
    blob = json.dumps([model, request.system, request.user], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class Recorded:
    """One call as it happened."""

    iteration: int
    model: str
    request_hash: str
    reply: ChatReply | None
    error_kind: str | None
    error: str
    attempts: tuple[dict, ...]
    cost_usd: float
    priced: bool
    latency_s: float

    def to_json(self, request: ChatRequest) -> dict:
        return {
            "iteration": self.iteration,
            "model": self.model,
            "request_hash": self.request_hash,
            "system": request.system,
            "user": request.user,
            "reply": None if self.reply is None else self.reply.__dict__,
            "error_kind": self.error_kind,
            "error": self.error,
            "attempts": list(self.attempts),
            "cost_usd": self.cost_usd,
            "priced": self.priced,
            "latency_s": self.latency_s,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Recorded":
        reply = data.get("reply")
        return cls(
            iteration=int(data["iteration"]),
            model=str(data["model"]),
            request_hash=str(data["request_hash"]),
            reply=None if reply is None else ChatReply(**reply),
            error_kind=data.get("error_kind"),
            error=str(data.get("error", "")),
            attempts=tuple(data.get("attempts", ())),
            cost_usd=float(data.get("cost_usd", 0.0)),
            priced=bool(data.get("priced", True)),
            latency_s=float(data.get("latency_s", 0.0)),
        )


class Recorder:
    """Appends calls as they finish, flushed line by line so a crash loses at most one call.

    A new run refuses a file that already holds calls; a resumed run appends to its own cassette
    only (same header), after cutting off a line a crash left half-written.
    """

    def __init__(self, path: Path, header: dict, resume: bool = False):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not path.exists() or path.stat().st_size == 0
            if not fresh:
                self._check_appendable(path, header, resume)
                _cut_torn_tail(path)
            self._file = open(path, "a", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot record to {path}: {exc.strerror or exc}") from None
        if fresh:
            self._write({"cassette": FORMAT, **header})

    @staticmethod
    def _check_appendable(path: Path, header: dict, resume: bool) -> None:
        existing = read_header(path)
        if not resume:
            raise ConfigError(f"{path} already holds a recording; record a new run to a new file")
        if existing.get("run_name") != header.get("run_name") or existing.get("settings") != header.get("settings"):
            raise ConfigError(f"{path} holds another run's recording (or other [llm] settings); use a new file")

    def add(self, call: Recorded, request: ChatRequest) -> None:
        self._write(call.to_json(request))

    def commit(self, iteration: int, seen_upto: int) -> None:
        """A commit, in commit order: which iteration, planned from which snapshot."""
        self._write({"commit": iteration, "seen": seen_upto})

    def _write(self, data: dict) -> None:
        self._file.write(json.dumps(data, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _cut_torn_tail(path: Path) -> None:
    """Drop a last line without its newline (a crash mid-write), so appends start on a new line."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def read_header(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline()
    except OSError as exc:
        raise ConfigError(f"cannot read cassette {path}: {exc.strerror or exc}") from None
    try:
        header = json.loads(first)
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("cassette") != FORMAT:
        raise ConfigError(f"{path} is not an evolve cassette (format {FORMAT})")
    return header


class Cassette:
    """The calls of a recording, by (iteration, request hash); the last recording of a call wins."""

    def __init__(self, path: Path):
        self.path = path
        self.header = read_header(path)
        self._calls: dict[tuple[int, str], Recorded] = {}
        self._commits: list[tuple[int, int]] = []
        with open(path, encoding="utf-8") as handle:
            next(handle)
            for lineno, line in enumerate(handle, start=2):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                    if "commit" in data:
                        self._commits.append((int(data["commit"]), int(data["seen"])))
                        continue
                    call = Recorded.from_json(data)
                except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                    if not line.endswith("\n"):
                        break  # a torn last line from a crash: everything before it is good
                    raise ConfigError(f"{path}:{lineno}: not a recorded call ({exc})") from None
                self._calls[(call.iteration, call.request_hash)] = call

    def __len__(self) -> int:
        return len(self._calls)

    def schedule(self) -> list[tuple[int, int]] | None:
        """The recorded commits as (iteration, seen_upto), in order; None for a recording made
        before commits were recorded (its run committed in iteration order)."""
        return list(self._commits) if self._commits else None

    def lookup(self, iteration: int, digest: str) -> Recorded | None:
        return self._calls.get((iteration, digest))
