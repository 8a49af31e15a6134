"""Plain data across the sandbox boundary: msgpack messages, NumPy arrays as bytes (framed by
sandboxes.framing).

Both sides import this module, but only the trusted side's decoder matters: whatever the
candidate's process sends is decoded here into fresh built-in values (None, bool, int, float,
str, bytes, list, dict keyed by scalars) and NumPy arrays of a whitelisted numeric dtype, never
into objects the candidate built. No pickle anywhere.

    message:  4-byte big-endian length, then one msgpack value
    ext 1:    an array: dtype code (1 byte), ndim (1 byte), shape (ndim x 8 bytes, little-endian),
              then the raw little-endian data                              (both directions)
    ext 2:    records, msgpack [kind, view or None, names, columns, rows] (trusted -> candidate only)
    ext 4:    a column whose rows all hold one value: msgpack of the value   (inside ext 2)
    ext 5:    a list of answers that are all arrays of one dtype and shape: one stacked array, as
              ext 1's payload, decoded into a list of fresh arrays           (candidate -> trusted)
    ext 3:    an answer that could not be encoded, utf-8 type name        (candidate -> trusted only)
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from itertools import repeat

import msgpack
import numpy as np

from sandboxes.framing import WireError

ARRAY, RECORDS, UNENCODABLE, CONSTANT, STACKED = 1, 2, 3, 4, 5
MAX_DIMS = 8
DTYPES = tuple(  # the only dtypes that cross, by code (their index here), little-endian
    np.dtype(name).newbyteorder("<") for name in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64")
)
DTYPE_CODES = {dtype: code for code, dtype in enumerate(DTYPES)}


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


# --- encoding (both sides) -----------------------------------------------------------------


def pack(value, strict: bool = True) -> bytes:
    """Encode plain data, arrays and Records; TypeError for anything else.

    Strict types (the candidate's side): a subclass of a built-in is not packed as one;
    `_default` copies what it really holds into the plain type through the base type's own
    methods, so overridden __len__, __iter__, __int__... change nothing: a list subclass that lies
    about its length arrives as the items it holds, and is judged as that. The trusted side packs
    only what it built itself, and may skip that (strict=False: tuples pack natively, faster).
    """
    packer = _Packer.strict if strict else _Packer.loose
    try:
        return packer.pack(value)
    except BaseException:
        packer.reset()  # a packer that failed halfway must not carry its half message into the next
        raise


class _Packer:
    """Reusable packers: building one costs more than packing a small message. Not re-entrant:
    `_default` never calls `pack` (nested parts use msgpack.packb)."""

    strict = msgpack.Packer(default=lambda v: _default(v), use_bin_type=True, strict_types=True)
    loose = msgpack.Packer(default=lambda v: _default(v), use_bin_type=True, strict_types=False)
    nested = msgpack.Packer(default=lambda v: _default(v), use_bin_type=True)  # a Records' body (see _pack_nested)
    scalar = msgpack.Packer(use_bin_type=True)  # a constant column's value: a plain scalar, no default
    nesting = [False]


def _ext(code: int, data: bytes) -> msgpack.ExtType:
    """msgpack.ExtType(code, data) without its Python-level checks (our own code and bytes)."""
    return tuple.__new__(msgpack.ExtType, (code, data))


def _pack_nested(value) -> bytes:
    """msgpack.packb(value) for the inside of an extension, with a reused packer unless one
    Records sits inside another (then the reused one is busy: a fresh one packs the inner)."""
    if _Packer.nesting[0]:
        return msgpack.packb(value, default=_default, use_bin_type=True)
    _Packer.nesting[0] = True
    try:
        return _Packer.nested.pack(value)
    except BaseException:
        _Packer.nested.reset()
        raise
    finally:
        _Packer.nesting[0] = False


def _default(value):
    if isinstance(value, np.ndarray):
        return _ext(ARRAY, pack_array(value))
    if isinstance(value, Records):
        fields = value.fields
        names = list(fields)
        columns = [_column(column) for column in fields.values()]
        nested = [value.kind, value.view, names, columns, value.rows]
        return _ext(RECORDS, _pack_nested(nested))  # ours alone
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


def _column(column):
    """A column holding one scalar throughout is sent once (a tick number, a machine count...)."""
    if isinstance(column, np.ndarray):
        if column.ndim == 1 and len(column) > 1 and (column == column[0]).all():
            return _ext(CONSTANT, _Packer.scalar.pack(column[0].item()))
    elif column.__class__ is list and len(column) > 1 and column[0].__class__ in _SCALARS and column.count(column[0]) == len(column):
        if all(value.__class__ is column[0].__class__ for value in column):  # 1 == 1.0 == True, but they differ
            return _ext(CONSTANT, _Packer.scalar.pack(column[0]))
    return column


_SCALARS = frozenset({int, float, str, bool, type(None)})


def pack_array(array: np.ndarray) -> bytes:
    code = DTYPE_CODES.get(array.dtype)  # a native little-endian dtype, the common case
    if code is None:
        code = DTYPE_CODES.get(array.dtype.newbyteorder("<"))
    if code is None or array.ndim > MAX_DIMS:
        raise TypeError(f"cannot send an array of dtype {array.dtype} and {array.ndim} dimensions")
    array = np.ascontiguousarray(array, dtype=DTYPES[code])
    return _ARRAY_HEADERS[array.ndim].pack(code, array.ndim, *array.shape) + array.tobytes()


_ARRAY_HEADERS = [struct.Struct(f"<BB{ndim}Q") for ndim in range(MAX_DIMS + 1)]


def pack_answers(results: list) -> bytes:
    """A list of answers; one that cannot be encoded becomes an Unencodable marker, not a failure.
    Answers that are all plain arrays of one dtype and shape cross as one stacked array."""
    first = results[0] if results else None
    if first.__class__ is np.ndarray and all(r.__class__ is np.ndarray and r.shape == first.shape and r.dtype == first.dtype for r in results):
        try:
            return msgpack.packb(msgpack.ExtType(STACKED, pack_array(np.stack(results))), use_bin_type=True)
        except TypeError:
            pass  # an unsendable dtype: judged one by one below
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
        if code == STACKED:
            stacked = unpack_array(payload)
            if stacked.ndim < 1:
                raise WireError("a stacked answer needs a first axis")
            arrays[0] += len(stacked)
            if arrays[0] > limits.max_arrays:
                raise WireError(f"more than {limits.max_arrays} arrays in one message")
            return list(stacked)  # fresh views of one fresh copy: one array per answer
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
    """A fresh, writable array from (dtype code, shape, bytes), after checking every part."""
    if len(data) < 2 or data[0] >= len(DTYPES) or data[1] > MAX_DIMS:
        raise WireError("malformed array header")
    dtype, ndim = DTYPES[data[0]], data[1]
    start = 2 + 8 * ndim
    if len(data) < start:
        raise WireError("malformed array header")
    shape = struct.unpack_from(f"<{ndim}Q", data, 2)
    if math.prod(shape) * dtype.itemsize != len(data) - start:
        raise WireError("array size does not match its shape")
    return np.frombuffer(data, dtype=dtype, offset=start).reshape(shape).copy()


# --- decoding on the candidate's side ----------------------------------------------------------


@dataclass
class RecordsFactory:
    """Builds the candidate-side objects for ext 2; `resolve` imports a view class by name."""

    resolve: object  # Callable[[str], type]
    classes: dict = field(default_factory=dict)

    def ext(self, code: int, data: bytes):
        if code == ARRAY:
            return unpack_array(data)
        if code == CONSTANT:
            return _Constant(unpack_candidate(data, self))
        if code == RECORDS:
            kind, view, names, columns, count = unpack_candidate(data, self)
            return self.rows(kind, view, names, columns, count)
        raise ValueError(f"unexpected extension type {code}")

    def rows(self, kind: str, view: str | None, names: list, columns: list, count: int) -> list:
        columns = [
            repeat(c.value, count) if isinstance(c, _Constant) else c.tolist() if isinstance(c, np.ndarray) and c.ndim == 1 else list(c)
            for c in columns
        ]
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


@dataclass(frozen=True)
class _Constant:
    value: object


def unpack_candidate(data: bytes, factory: RecordsFactory) -> object:
    return msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=False, ext_hook=factory.ext)
