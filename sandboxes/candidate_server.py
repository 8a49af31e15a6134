"""The candidate's side of the boundary: load the candidate module, then answer calls, alone.

Runs inside the sandbox (forked by the pool server, or started by the process backend) with the
channel to the trusted evaluator on a socket descriptor; nothing else of the evaluator lives in
this process. Everything here is as untrusted as the candidate itself: the candidate may rewrite
this module, the codec or the socket. That changes nothing the host believes, because the host
only ever reads plain data from the channel and validates it on its own side.

Requests (msgpack maps, see sandboxes.wire; sequences arrive as tuples):
    {"op": "load", "code"}                          -> {"ok", "names"}  public callables of the module
    {"op": "new", "target", "args", "n"}            -> {"ok", "handles"}  n objects target(*args[i])
    {"op": "call", "target", "args", "n"}           -> {"ok", "results"}  n calls of a module function
    {"op": "invoke", "handles", "method", "args"}   -> {"ok", "results"}  one method call per handle
    {"op": "drop", "handles"}                       -> {"ok"}
`args` holds one column per positional argument: a list with a value per call, or Records.
A failure answers {"ok": False, "kind": "crash" | "memory" | "missing" | "protocol", "detail"}.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import mmap
import os
import socket
import sys
import traceback

import msgpack

from sandboxes import framing, wire

CANDIDATE_FILE = "candidate.py"
RESERVE_BYTES = 8 << 20  # address space freed on MemoryError so the failure can still be reported
DETAIL_CHARS = 2000
MAX_REQUEST_BYTES = 256 << 20
GC_THRESHOLD = 10_000  # young objects between collections (CPython's default: 700)


class Refused(Exception):
    """A request this server cannot carry out (a missing name, a malformed request)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


class Server:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.module = None
        self.objects: dict[int, object] = {}
        self.bound: dict[str, dict[int, object]] = {}  # method name -> handle -> bound method
        self.last_methods: tuple = (None, [])
        self.next_handle = 0
        self.factory = wire.RecordsFactory(resolve=_resolve_view)
        self.reserve = [mmap.mmap(-1, RESERVE_BYTES)]  # counts against RLIMIT_AS without touching pages

    def serve(self) -> int:
        while True:
            try:
                raw = framing.recv_message(self.sock, MAX_REQUEST_BYTES)
            except framing.ChannelClosed:
                return 0
            self._send(self._answer(raw))

    def _answer(self, raw: bytes) -> bytes:
        try:
            request = wire.unpack_candidate(raw, self.factory)
            op = request["op"]
            handler = getattr(self, f"_op_{op}", None)
            if handler is None:
                raise Refused("protocol", f"unknown op {op!r}")
            return handler(request)
        except Refused as exc:
            return _failure(exc.kind, exc.detail)
        except MemoryError:
            self.reserve.clear()
            return _failure("memory", _traceback_tail())
        except BaseException:  # anything the candidate raises, SystemExit from sys.exit() included
            return _failure("crash", _traceback_tail())

    def _op_load(self, request: dict) -> bytes:
        path = os.path.join(os.getcwd(), CANDIDATE_FILE)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(request["code"])
        spec = importlib.util.spec_from_file_location("candidate", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["candidate"] = module
        try:
            spec.loader.exec_module(module)
        except MemoryError:
            self.reserve.clear()
            return _failure("memory", "the candidate ran out of memory while importing:\n" + _traceback_tail())
        except BaseException:  # SyntaxError, SystemExit, anything raised at import time
            return _failure("crash", "the candidate failed to import:\n" + _traceback_tail())
        self.module = module
        gc.freeze()  # what the import built lives on: keep the collector from rescanning it every tick
        gc.set_threshold(GC_THRESHOLD)  # a tick builds a record per scenario: collect less often
        names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        return wire.pack({"ok": True, "names": names})

    def _op_new(self, request: dict) -> bytes:
        target = self._function(request["target"])
        handles = []
        for args in _calls(request["args"], request["n"]):
            self.objects[self.next_handle] = target(*args)
            handles.append(self.next_handle)
            self.next_handle += 1
        return wire.pack({"ok": True, "handles": handles})

    def _op_call(self, request: dict) -> bytes:
        target = self._function(request["target"])
        return _results([target(*args) for args in _calls(request["args"], request["n"])])

    def _op_invoke(self, request: dict) -> bytes:
        method = request["method"]
        if not isinstance(method, str) or method.startswith("_"):
            raise Refused("protocol", f"method name {method!r} is not allowed")
        fns = self._methods(request["handles"], method)
        columns = request["args"]
        if len(columns) == 1 and len(columns[0]) == len(fns):  # the common per-tick shape: one argument
            return _results([fn(arg) for fn, arg in zip(fns, columns[0])])
        return _results([fn(*args) for fn, args in zip(fns, _calls(columns, len(fns)))])

    def _methods(self, handles, method: str) -> list:
        """The bound methods for these handles; the same set as last time (a tick's active
        scenarios rarely change) is answered from a cache."""
        key = (method, handles.tobytes() if hasattr(handles, "tobytes") else tuple(handles))
        if self.last_methods[0] == key:
            return self.last_methods[1]
        bound = self.bound.setdefault(method, {})
        try:
            fns = [bound[h] if h in bound else self._bind(bound, h, method) for h in _handles(handles)]
        except KeyError as exc:
            raise Refused("protocol", f"no object with handle {exc}") from None
        except AttributeError as exc:
            raise Refused("missing", str(exc)) from None
        self.last_methods = (key, fns)
        return fns

    def _bind(self, bound: dict, handle: int, method: str):
        bound[handle] = getattr(self.objects[handle], method)
        return bound[handle]

    def _op_drop(self, request: dict) -> bytes:
        self.last_methods = (None, [])
        for handle in _handles(request["handles"]):
            self.objects.pop(handle, None)
            for bound in self.bound.values():
                bound.pop(handle, None)
        return wire.pack({"ok": True})

    def _function(self, name: str):
        if self.module is None:
            raise Refused("protocol", "no candidate loaded")
        value = getattr(self.module, name, None) if isinstance(name, str) and not name.startswith("_") else None
        if not callable(value):
            raise Refused("missing", f"the candidate defines no {name!r}")
        return value

    def _send(self, payload: bytes) -> None:
        try:
            framing.send_message(self.sock, payload)
        except OSError:
            raise SystemExit(0) from None  # the evaluator went away: nothing left to answer


def _calls(columns: list, count: int) -> list[tuple]:
    """Per-call argument tuples from one column per positional argument."""
    if not columns:
        return [()] * count
    if any(len(c) != count for c in columns):
        raise Refused("protocol", "argument columns differ in length from the number of calls")
    return list(zip(*columns))


def _handles(value) -> list[int]:
    return value.tolist() if hasattr(value, "tolist") else list(value)


RESULTS_PREFIX = msgpack.packb({"ok": True, "results": None})[:-1]  # the map up to its last value


def _results(values: list) -> bytes:
    """{"ok": True, "results": [...]}: the map's prefix, then the answers, which pack_answers
    encodes one by one when some cannot be encoded."""
    return RESULTS_PREFIX + wire.pack_answers(values)


def _failure(kind: str, detail: str) -> bytes:
    return wire.pack({"ok": False, "kind": kind, "detail": detail[-DETAIL_CHARS:]})


def _resolve_view(ref: str):
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def _traceback_tail() -> str:
    try:
        return traceback.format_exc()[-DETAIL_CHARS:]
    except MemoryError:
        return "MemoryError (no memory left to format the traceback)"


def run(fd: int) -> int:
    """Serve on the socket at descriptor `fd` until the evaluator closes it."""
    sock = socket.socket(fileno=fd)
    sock.setblocking(True)
    return Server(sock).serve()


def main(argv: list[str] | None = None) -> int:
    """The process backend's entry point (warm sandboxes fork the pool server instead)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] != ["--fd"] or len(argv) != 2 or not argv[1].isdigit():
        print("usage: python -m sandboxes.candidate_server --fd N", file=sys.stderr)
        return 2
    from sandboxes import seccomp

    seccomp.deny_keyrings()  # best effort here: this backend does not isolate anyway
    return run(int(argv[1]))


if __name__ == "__main__":
    raise SystemExit(main())
