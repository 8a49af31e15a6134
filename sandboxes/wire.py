"""Plain data across the sandbox boundary: length-prefixed msgpack messages, NumPy arrays as bytes.

Both sides import this module, but only the trusted side's decoder matters: whatever the
candidate's process sends is decoded here into fresh built-in values (None, bool, int, float,
str, bytes, list, dict keyed by scalars) and NumPy arrays of a whitelisted numeric dtype, never
into objects the candidate built. No pickle anywhere.

    message:  4-byte big-endian length, then one msgpack value
    ext 1:    an array, msgpack [dtype str, shape list, raw bytes]       (both directions)
    ext 2:    records, msgpack [kind, view or None, names, columns]      (trusted -> candidate only)
    ext 3:    an answer that could not be encoded, utf-8 type name        (candidate -> trusted only)
"""

from __future__ import annotations

import math
import socket
import struct
import time
from dataclasses import dataclass, field

import msgpack
import numpy as np

ARRAY, RECORDS, UNENCODABLE = 1, 2, 3
HEADER = struct.Struct(">I")
MAX_DIMS = 8
DTYPES = frozenset(
    np.dtype(name).str for name in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64")
)


class WireError(Exception):
    """Bytes that are not a well-formed message (from a broken or hostile peer)."""


class ChannelClosed(WireError):
    """The peer closed the channel (its process exited or was killed)."""


class ChannelTimeout(WireError):
    """No complete message arrived before the deadline."""


class MessageTooLarge(WireError):
    """A message announced more bytes than the receiver accepts."""


@dataclass(frozen=True)
class Records:
    """Attribute objects built in the candidate's process, one per row: `fields` maps a field name
    to a column (a list, or an array whose first axis is the row). With `view` ("module:Class",
    importable in the sandbox) each row is built as `Class(**row)`; otherwise it is a read-only
    record named `kind` (a namedtuple)."""

    kind: str
    fields: dict
    view: str | None = None

    @property
    def rows(self) -> int:
        return len(next(iter(self.fields.values()))) if self.fields else 0


def record(kind: str, view: str | None = None, **fields) -> Records:
    """One attribute object (a single row), for a single call."""
    return Records(kind, {name: [value] for name, value in fields.items()}, view)


@dataclass(frozen=True)
class Unencodable:
    """An answer the candidate's process could not turn into plain data (its type name)."""

    type_name: str


# --- framing -------------------------------------------------------------------------------

BUFFER_BYTES = 4 << 20  # a tick's whole batch fits: the sender never waits for the reader


def channel_pair() -> tuple[socket.socket, socket.socket]:
    """A connected pair for one job's channel, with buffers large enough for a batch."""
    ours, theirs = socket.socketpair()
    for sock in (ours, theirs):
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, BUFFER_BYTES)
            except OSError:
                pass  # capped by the system's maximum: still correct, only slower
    return ours, theirs


def send_message(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(HEADER.pack(len(payload)) + payload)


def recv_message(sock: socket.socket, max_bytes: int, deadline: float | None = None) -> bytes:
    """One whole message; ChannelClosed, ChannelTimeout, or WireError when it is too large."""
    size = HEADER.unpack(_recv_exact(sock, HEADER.size, deadline))[0]
    if size > max_bytes:
        raise MessageTooLarge(f"an answer of {size} bytes exceeds the {max_bytes}-byte limit")
    return _recv_exact(sock, size, deadline)


def _recv_exact(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout("no answer before the deadline")
            sock.settimeout(remaining)
        try:
            count = sock.recv_into(view[got:])
        except socket.timeout:
            raise ChannelTimeout("no answer before the deadline") from None
        except OSError as exc:
            raise ChannelClosed(f"channel failed: {exc}") from None
        if count == 0:
            raise ChannelClosed("the other side closed the channel")
        got += count
    return bytes(buffer)


# --- encoding (both sides) -----------------------------------------------------------------


def pack(value) -> bytes:
    """Encode plain data, arrays and Records; TypeError for anything else.

    Strict types: a subclass of a built-in is not packed as one (msgpack would trust its length);
    `_default` copies what it really holds into the plain type through the base type's own
    methods, so overridden __len__, __iter__, __int__... change nothing: a list subclass that lies
    about its length arrives as the items it holds, and is judged as that.
    """
    return msgpack.packb(value, default=_default, use_bin_type=True, strict_types=True)


def _default(value):
    if isinstance(value, np.ndarray):
        return msgpack.ExtType(ARRAY, pack_array(value))
    if isinstance(value, Records):
        names = list(value.fields)
        columns = [value.fields[n] for n in names]
        return msgpack.ExtType(RECORDS, pack([value.kind, value.view, names, columns]))
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    for plain, real in _REAL_VALUE:
        if isinstance(value, plain):
            return real(value)
    raise Unsendable(type(value).__name__)


_REAL_VALUE = (  # what a subclass instance really holds, read with the base type's methods
    (int, int.__int__),  # bool is not subclassable, and msgpack packs it before this is asked
    (float, float.__float__),
    (str, str.__str__),
    (bytes, lambda b: bytes(memoryview(b))),
    (list, list.copy),
    (tuple, lambda t: list(tuple.__iter__(t))),
    (dict, lambda d: dict(dict.items(d))),
)


class Unsendable(TypeError):
    """A value with no plain-data form; `name` is its type's name."""

    def __init__(self, name: str):
        super().__init__(f"cannot send {name} across the sandbox boundary")
        self.name = name


def pack_array(array: np.ndarray) -> bytes:
    if array.dtype.kind not in "biuf" or array.ndim > MAX_DIMS:
        raise TypeError(f"cannot send an array of dtype {array.dtype} and {array.ndim} dimensions")
    array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype)
    return msgpack.packb([array.dtype.str, list(array.shape), array.tobytes()], use_bin_type=True)


def pack_answers(results: list) -> bytes:
    """A list of answers; one that cannot be encoded becomes an Unencodable marker, not a failure."""
    try:
        return pack(results)
    except (TypeError, ValueError, OverflowError):
        pass
    packer = msgpack.Packer(default=_default, use_bin_type=True, strict_types=True)
    parts = [packer.pack_array_header(len(results))]
    for item in results:
        try:
            parts.append(packer.pack(item))
        except (TypeError, ValueError, OverflowError) as exc:
            packer.reset()
            name = type(item).__name__
            inner = exc.name if isinstance(exc, Unsendable) else "value out of range"
            label = name if inner == name else f"{name} holding a {inner}"
            parts.append(packer.pack(msgpack.ExtType(UNENCODABLE, label[:100].encode())))
    return b"".join(parts)


# --- decoding on the trusted side ------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Bounds on what one decoded message may hold: its bytes, the items of any one container,
    and how many arrays in all (each costs a Python object: many tiny ones amplify memory)."""

    max_bytes: int = 16 << 20
    max_items: int = 4_000_000
    max_arrays: int = 100_000


def unpack_trusted(data: bytes, limits: Limits = Limits()) -> object:
    """Decode a message from the candidate's side: fresh built-ins and arrays, or WireError."""
    arrays = [0]

    def ext(code: int, payload: bytes):
        if code == ARRAY:
            arrays[0] += 1
            if arrays[0] > limits.max_arrays:
                raise WireError(f"more than {limits.max_arrays} arrays in one message")
            return unpack_array(payload)
        if code == UNENCODABLE:
            return Unencodable(payload.decode("utf-8", "replace")[:100])
        raise WireError(f"unexpected extension type {code}")

    try:
        return msgpack.unpackb(
            data, raw=False, strict_map_key=False, use_list=True, ext_hook=ext, timestamp=2,
            max_bin_len=limits.max_bytes, max_str_len=limits.max_bytes, max_array_len=limits.max_items,
            max_map_len=limits.max_items, max_ext_len=limits.max_bytes,
        )  # fmt: skip
    except WireError:
        raise
    except Exception as exc:  # msgpack's own errors, ValueError, RecursionError...: all mean malformed
        raise WireError(f"malformed message: {type(exc).__name__}: {str(exc)[:200]}") from None


def unpack_array(data: bytes) -> np.ndarray:
    """A fresh, writable array from (dtype, shape, bytes), after checking every part."""
    try:
        parts = msgpack.unpackb(data, raw=False, use_list=True, max_array_len=MAX_DIMS + 3)
    except Exception as exc:
        raise WireError(f"malformed array: {type(exc).__name__}") from None
    if not (isinstance(parts, list) and len(parts) == 3):
        raise WireError("malformed array header")
    dtype, shape, raw = parts
    if dtype.__class__ is not str or dtype not in DTYPES:
        raise WireError(f"array dtype {dtype!r} is not allowed")
    if shape.__class__ is not list or len(shape) > MAX_DIMS or any(d.__class__ is not int or d < 0 for d in shape):
        raise WireError(f"bad array shape {shape!r}")
    if raw.__class__ is not bytes or math.prod(shape) * np.dtype(dtype).itemsize != len(raw):
        raise WireError("array size does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


# --- decoding on the candidate's side ----------------------------------------------------------


@dataclass
class RecordsFactory:
    """Builds the candidate-side objects for ext 2; `resolve` imports a view class by name."""

    resolve: object  # Callable[[str], type]
    classes: dict = field(default_factory=dict)

    def ext(self, code: int, data: bytes):
        if code == ARRAY:
            return unpack_array(data)
        if code == RECORDS:
            kind, view, names, columns = unpack_candidate(data, self)
            return self.rows(kind, view, names, columns)
        raise ValueError(f"unexpected extension type {code}")

    def rows(self, kind: str, view: str | None, names: list, columns: list) -> list:
        columns = [c.tolist() if isinstance(c, np.ndarray) and c.ndim == 1 else list(c) for c in columns]
        if view is not None:
            cls = self.resolve(view)
            return [cls(**dict(zip(names, row))) for row in zip(*columns)]
        key = (kind, tuple(names))
        if key not in self.classes:
            from collections import namedtuple
            from functools import partial

            cls = namedtuple(kind if kind.isidentifier() else "Record", names)
            self.classes[key] = partial(tuple.__new__, cls)  # builds a row without a Python-level call
        return list(map(self.classes[key], zip(*columns)))


def unpack_candidate(data: bytes, factory: RecordsFactory) -> object:
    return msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=False, ext_hook=factory.ext)
