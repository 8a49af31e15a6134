"""The trusted evaluator's handle on the candidate: a process in a sandbox, reached only by calls.

An evaluator never holds the candidate's code or objects. It asks for calls and gets back plain
data, decoded on this side into fresh built-ins (sandboxes.wire) and checked against a declared
answer type (evaluators.answers). Every method is one round trip, so batch: run the scenarios of
a stage in lockstep and send one call per scenario per tick in one `invoke`.

    policies = candidate.create("Policy", columns=[specs])                 # one object per scenario
    answers = candidate.invoke(policies, "decide", columns=[observations], returns=DECISION)
    placement = candidate.call("rebalance", load, returns=Array("int", (None,)))

Arguments are plain data, NumPy arrays and Records (attribute objects built on the candidate's
side). Batches take `calls` (one argument tuple per call) or `columns` (one column per positional
argument: a list with a value per call, or a Records with a row per call; the fast form).
A candidate that raises, dies, hangs or answers garbage raises CandidateFailed; after that every
call raises it again, and the stage fails whatever the evaluator returns.
"""

from __future__ import annotations

import socket
import time
from typing import Sequence

import numpy as np

from evaluators.answers import Invalid, Spec, check
from sandboxes import framing, wire
from sandboxes.wire import Unencodable
from sandboxes.errors import CandidateFailed

FAILURE_KINDS = {"crash": "crash", "memory": "memory", "missing": "crash"}


class Handles:
    """Objects living in the candidate's process (e.g. one Policy per scenario), by id.

    Index it like an array: `policies[active]` (an index array or slice) is again Handles.
    """

    def __init__(self, ids):
        self.ids = np.asarray(ids, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index) -> "Handles":
        return Handles(np.atleast_1d(self.ids[index]))


class Session:
    """One channel to one candidate process: request in, decoded answer out, under a deadline."""

    def __init__(self, sock: socket.socket, deadline: float, limits: wire.Limits = wire.Limits()):
        self.sock, self.deadline, self.limits = sock, deadline, limits
        self.channel = framing.Channel(sock)
        self.failure: CandidateFailed | None = None
        self.seconds = 0.0  # total round-trip time, on this side's clock
        self.round_trips = 0
        self._sent_at: float | None = None

    def exchange(self, request: dict) -> dict:
        self.send(request)
        return self.receive()

    def send(self, request: dict) -> None:
        """Send one request; its reply must be received before the next is sent."""
        if self.failure is not None:
            raise self.failure
        if self._sent_at is not None:
            raise RuntimeError("a request is already in flight: receive its reply first")
        self._sent_at = time.perf_counter()
        try:
            self.channel.send(wire.pack(request, strict=False), self.deadline)  # our own request: plain data we built
        except (BrokenPipeError, ConnectionResetError) as exc:
            self._sent_at = None
            raise self._fail("crash", f"the candidate's process ended before taking a call ({exc})")
        except framing.ChannelTimeout:
            self._sent_at = None
            raise self._fail("timeout", "the candidate took no call before the wall clock limit")

    def receive(self) -> dict:
        """The reply to the request in flight, decoded and checked; CandidateFailed otherwise."""
        if self.failure is not None:
            raise self.failure
        try:
            reply = wire.unpack_trusted(self.channel.recv(self.limits.max_bytes, self.deadline), self.limits)
        except framing.ChannelTimeout:
            raise self._fail("timeout", "no answer before the wall clock limit")
        except framing.ChannelClosed as exc:
            raise self._fail("crash", f"the candidate's process ended while the evaluator waited for an answer ({exc})")
        except framing.MessageTooLarge as exc:
            raise self._fail("output_limit", str(exc))
        except wire.WireError as exc:
            raise self._fail("invalid_output", str(exc))
        finally:
            if self._sent_at is not None:
                self.seconds += time.perf_counter() - self._sent_at
            self._sent_at = None
            self.round_trips += 1
        if reply.__class__ is not dict or reply.get("ok") not in (True, False):
            raise self._fail("invalid_output", "the candidate's side answered something that is not a reply")
        if reply["ok"] is False:
            kind, detail = reply.get("kind"), reply.get("detail")
            detail = detail[-2000:] if detail.__class__ is str else ""
            raise self._fail(FAILURE_KINDS.get(kind, "invalid_output"), detail or f"refused the call ({kind!r})")
        return reply

    def _fail(self, kind: str, detail: str) -> CandidateFailed:
        self.failure = CandidateFailed(kind, detail)
        return self.failure

    def load(self, code: str) -> frozenset[str]:
        """Import the candidate's code in its process; the public callables it defines."""
        names = self.exchange({"op": "load", "code": code}).get("names")
        if names.__class__ is not list or not all(n.__class__ is str for n in names):
            raise self._fail("invalid_output", "the candidate's side did not list its names")
        return frozenset(names)


class Candidate:
    """What `run_stage` receives: the candidate, reachable only through calls of plain data."""

    def __init__(self, session: Session, names: frozenset[str]):
        self._session = session
        self.names = names

    def defines(self, name: str) -> bool:
        """Whether the candidate's module defines a public callable `name` (class or function)."""
        return name in self.names

    @property
    def seconds(self) -> float:
        """Round-trip time of every call so far (the candidate's compute plus the transfer)."""
        return self._session.seconds

    def call(self, function: str, *args, returns: Spec | None = None) -> object:
        """One call of a module-level function: its clean answer, or Invalid."""
        return self.map(function, [args], returns=returns)[0]

    def map(self, function: str, calls: Sequence[Sequence] | None = None, *, columns: list | None = None, returns: Spec | None = None) -> list:
        """Many independent calls of one module-level function, in one round trip."""
        return self.start_map(function, calls, columns=columns, returns=returns).result()

    def start_map(self, function: str, calls: Sequence[Sequence] | None = None, *, columns: list | None = None,
                  returns: Spec | None = None) -> "Pending":  # fmt: skip
        """`map`, sent now, answered by `.result()`: the evaluator may work meanwhile (one call in flight)."""
        columns, count = _columns(calls, columns)
        self._session.send({"op": "call", "target": function, "args": columns, "n": count})
        return Pending(self, count, returns)

    def create(self, cls: str, calls: Sequence[Sequence] | None = None, *, columns: list | None = None) -> Handles:
        """Objects built in the candidate's process (`cls(*args)` per call); handles to them."""
        columns, count = _columns(calls, columns)
        handles = self._session.exchange({"op": "new", "target": cls, "args": columns, "n": count}).get("handles")
        if handles.__class__ is not list or len(handles) != count or not all(h.__class__ is int and 0 <= h < 1 << 62 for h in handles):
            raise self._session._fail("invalid_output", "the candidate's side answered without object handles")
        return Handles(handles)

    def invoke(self, handles: Handles, method: str, calls: Sequence[Sequence] | None = None, *,
               columns: list | None = None, returns: Spec | None = None) -> list:  # fmt: skip
        """`handle.method(*args)` for each handle, in one round trip: clean answers or Invalid."""
        return self.start_invoke(handles, method, calls, columns=columns, returns=returns).result()

    def start_invoke(self, handles: Handles, method: str, calls: Sequence[Sequence] | None = None, *,
                     columns: list | None = None, returns: Spec | None = None) -> "Pending":  # fmt: skip
        """`invoke`, sent now, answered by `.result()`: the evaluator may work meanwhile (one call in flight)."""
        columns, count = _columns(calls, columns, len(handles))
        if count != len(handles):
            raise ValueError(f"{count} argument rows for {len(handles)} handles")
        self._session.send({"op": "invoke", "handles": handles.ids, "method": method, "args": columns})
        return Pending(self, count, returns)

    def drop(self, handles: Handles) -> None:
        """Let the candidate's process free these objects (e.g. finished scenarios)."""
        self._session.exchange({"op": "drop", "handles": handles.ids})

    def _answers(self, reply: dict, count: int, returns: Spec | None) -> list:
        results = reply.get("results")
        if results.__class__ is not list or len(results) != count:
            raise self._session._fail("invalid_output", f"expected {count} answers, got {_describe(results)}")
        if returns is None and Unencodable not in set(map(type, results)):
            return results  # fresh built-ins already: nothing to check
        return [check(returns, value) for value in results]


class Pending:
    """Calls sent to the candidate, whose answers have not been read yet."""

    def __init__(self, candidate: "Candidate", count: int, returns: Spec | None):
        self._candidate, self._count, self._returns = candidate, count, returns

    def result(self) -> list:
        return self._candidate._answers(self._candidate._session.receive(), self._count, self._returns)


def _columns(calls, columns, default_count: int | None = None) -> tuple[list, int]:
    """(columns, number of calls) from either form."""
    if columns is not None:
        if calls is not None:
            raise ValueError("pass calls or columns, not both")
        counts = {c.rows if isinstance(c, wire.Records) else len(c) for c in columns}
        if len(counts) > 1:
            raise ValueError(f"argument columns differ in length: {sorted(counts)}")
        count = counts.pop() if counts else default_count
        if count is None:
            raise ValueError("no columns: say how many calls")
        return list(columns), count
    if calls is None:
        return [], default_count or 0
    calls = [tuple(c) for c in calls]
    if len({len(c) for c in calls}) > 1:
        raise ValueError("calls have different numbers of arguments")
    return [_column(list(items)) for items in zip(*calls)], len(calls)


def _column(items: list) -> list | wire.Records:
    """A column of values; one-row Records (from `wire.record`) are merged into one Records."""
    if not items or not all(isinstance(i, wire.Records) for i in items):
        return items
    first = items[0]
    if any(i.kind != first.kind or i.view != first.view or list(i.fields) != list(first.fields) for i in items):
        raise ValueError("records in one argument position must share kind, view and fields")
    return wire.Records(first.kind, {n: [v for i in items for v in i.fields[n]] for n in first.fields}, first.view)


def _describe(value: object) -> str:
    return f"{len(value)}" if value.__class__ is list else type(value).__name__


__all__ = ["Candidate", "Handles", "Invalid", "Pending", "Session"]
