"""Declared answer types: what a candidate's answer must be, checked on the trusted side.

Answers arrive already decoded into fresh built-ins and NumPy arrays (sandboxes.wire), so a
subclass that lies about its length cannot reach here; these specs add the problem's own rules
(an int in range, a finite float, an array of a shape, a permutation...). `check` returns the
clean value, or an `Invalid` carrying a reason for the evaluator to report.

    DECISION = AnyOf(Int(0, 2), Tuple(Int(0, 2), Int(0, 8)))
    answer = check(DECISION, raw)
    if isinstance(answer, Invalid): ...
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sandboxes.wire import Unencodable


class WrongAnswer(ValueError):
    """Raised by a spec's `clean`; `check` turns it into an Invalid."""


@dataclass(frozen=True)
class Invalid:
    """An answer that broke its declared type; `reason` says how, in words for the LLM."""

    reason: str


class Spec(Protocol):
    def clean(self, value: object) -> object: ...


def check(spec: Spec | None, value: object) -> object:
    """The clean value, or Invalid(reason). Checking never fails on the trusted side: an answer
    too deep or too odd to check is an invalid answer, not an evaluator error."""
    if isinstance(value, Unencodable):
        return Invalid(f"returned a {value.type_name}, which is not plain data (numbers, strings, lists, dicts, NumPy arrays)")
    if spec is None:
        return value
    try:
        return spec.clean(value)
    except WrongAnswer as exc:
        return Invalid(str(exc))
    except (RecursionError, MemoryError, OverflowError, ValueError, TypeError) as exc:
        return Invalid(f"returned {show(value)}, which could not be checked ({type(exc).__name__})")


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = 6
_REPR.maxlevel = 3


def show(value: object) -> str:
    """A short repr of a candidate's answer, bounded in time and length whatever it holds."""
    try:
        text = _REPR.repr(value)
    except Exception:  # noqa: BLE001 - an answer is data; its repr must never fail the evaluator
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


_show = show


@dataclass(frozen=True)
class Int:
    """An int (not a bool) in [min, max]."""

    min: int | None = None
    max: int | None = None

    def clean(self, value: object) -> int:
        if value.__class__ is not int:
            raise WrongAnswer(f"returned {_show(value)} ({type(value).__name__}), not an int")
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise WrongAnswer(f"returned {value}, outside {self.min}..{self.max}")
        return value


@dataclass(frozen=True)
class Float:
    """A finite number (int or float, not bool) in [min, max], as a float."""

    min: float | None = None
    max: float | None = None

    def clean(self, value: object) -> float:
        if value.__class__ not in (int, float):
            raise WrongAnswer(f"returned {_show(value)} ({type(value).__name__}), not a number")
        number = float(value)
        if not math.isfinite(number):
            raise WrongAnswer(f"returned {number}, not a finite number")
        if (self.min is not None and number < self.min) or (self.max is not None and number > self.max):
            raise WrongAnswer(f"returned {number:g}, outside {self.min}..{self.max}")
        return number


@dataclass(frozen=True)
class Tuple:
    """A fixed-length sequence (a list on the wire; tuples arrive as lists), item by item."""

    items: tuple

    def __init__(self, *items: Spec):
        object.__setattr__(self, "items", items)

    def clean(self, value: object) -> tuple:
        if value.__class__ is not list or len(value) != len(self.items):
            raise WrongAnswer(f"returned {_show(value)}, not a pair/tuple of {len(self.items)} items")
        return tuple(spec.clean(v) for spec, v in zip(self.items, value))


@dataclass(frozen=True)
class AnyOf:
    """The first spec that accepts the value; else the reason of the first."""

    options: tuple

    def __init__(self, *options: Spec):
        object.__setattr__(self, "options", options)

    def clean(self, value: object) -> object:
        first = None
        for spec in self.options:
            try:
                return spec.clean(value)
            except WrongAnswer as exc:
                first = first or exc
        raise first


@dataclass(frozen=True)
class Array:
    """A NumPy array (or nested lists of numbers) of `kind` "int" or "float" and exact `shape`
    (None entries match any length); floats must be finite unless `finite` is False."""

    kind: str
    shape: tuple
    finite: bool = True

    def clean(self, value: object) -> np.ndarray:
        array = value if isinstance(value, np.ndarray) else _from_lists(value)
        kinds = "iu" if self.kind == "int" else "iuf"
        if array.dtype.kind not in kinds:
            raise WrongAnswer(f"returned {array.dtype} values, not {'integers' if self.kind == 'int' else 'numbers'}")
        if array.ndim != len(self.shape) or any(w is not None and w != n for w, n in zip(self.shape, array.shape)):
            raise WrongAnswer(f"returned shape {array.shape}, expected {tuple('any' if w is None else w for w in self.shape)}")
        if self.kind == "float":
            array = array.astype(np.float64, copy=False)
            if self.finite and not np.isfinite(array).all():
                index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
                raise WrongAnswer(f"returned {array[index]} at {index}, not a finite number")
        else:
            array = array.astype(np.int64, copy=False)
        return array


def _from_lists(value: object) -> np.ndarray:
    """Nested lists of ints/floats as an array; anything else (bools, strings, ragged) is wrong."""
    if value.__class__ in (int, float):
        return np.asarray(value)
    if value.__class__ is not list:
        raise WrongAnswer(f"returned {_show(value)} ({type(value).__name__}), not an array or list of numbers")
    flat, stack = [], [value]
    while stack:
        item = stack.pop()
        if item.__class__ is list:
            stack.extend(item)
        elif item.__class__ not in (int, float):
            raise WrongAnswer(f"returned a list holding {_show(item)} ({type(item).__name__}), not only numbers")
        else:
            flat.append(item)
    try:
        array = np.asarray(value)
    except (ValueError, OverflowError) as exc:
        raise WrongAnswer(f"returned lists that do not form an array ({exc})") from None
    if array.dtype.kind not in "iuf":
        raise WrongAnswer("returned ragged or out-of-range lists, not an array of numbers")
    return array


@dataclass(frozen=True)
class Permutation:
    """Every index in range(n) exactly once, as a list of ints (a 1-D int array is accepted)."""

    n: int

    def clean(self, value: object) -> list[int]:
        if isinstance(value, np.ndarray):
            if value.ndim != 1 or value.dtype.kind not in "iu":
                raise WrongAnswer(f"returned an array of {value.dtype} and shape {value.shape}, not a 1-D order of ints")
            value = value.tolist()
        if value.__class__ is not list:
            raise WrongAnswer(f"returned {_show(value)} ({type(value).__name__}), not a list of indices")
        if len(value) != self.n:
            raise WrongAnswer(f"returned {len(value)} entries for {self.n} items")
        seen = [False] * self.n
        for position, index in enumerate(value):
            if index.__class__ is not int:
                raise WrongAnswer(f"entry {position} is {_show(index)} ({type(index).__name__}), not an int index")
            if not 0 <= index < self.n:
                raise WrongAnswer(f"entry {position} is {index}, outside 0..{self.n - 1}")
            if seen[index]:
                raise WrongAnswer(f"item {index} appears twice (item {seen.index(False)} is missing)")
            seen[index] = True
        return value
