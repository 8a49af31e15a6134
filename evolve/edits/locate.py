"""Where a SEARCH text sits in the program: exactly once, or exactly once after re-indenting.

Models often lose (or add) the same leading whitespace on every line of a SEARCH, or drop the
trailing spaces of a line. When the exact text is nowhere, the SEARCH is tried again with one
uniform indentation shift (and trailing whitespace ignored); if that finds exactly one place,
the REPLACE text gets the same shift. Two places, exact or shifted, is ambiguous and rejected.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from evolve.edits.visible import first_difference, visible
from evolve.errors import PatchError


@dataclass(frozen=True)
class Shift:
    """Leading whitespace to add to (or remove from) every non-blank REPLACE line."""

    add: str = ""
    remove: str = ""


@dataclass(frozen=True)
class Place:
    """Program lines [start, end) that the SEARCH matched, and the shift that made it match."""

    start: int
    end: int
    shift: Shift | None = None  # None: an exact match

    def reindent(self, replace: list[str], label: str) -> list[str]:
        if self.shift is None:
            return replace
        out = []
        for number, line in enumerate(replace, start=1):
            if not line.strip():
                out.append("\n")
            elif line.startswith(self.shift.remove):
                out.append(self.shift.add + line[len(self.shift.remove) :])
            else:
                raise PatchError(
                    "malformed_diff",
                    f"{label}: its SEARCH matched once indented by {len(self.shift.remove)} fewer characters, but "
                    f"REPLACE line {number} {visible(line)} is indented less than that",
                )
        return out


def locate(lines: list[str], search: list[str], label: str) -> Place:
    """The one place `search` matches in `lines` (both with line endings); PatchError otherwise."""
    size = len(search)
    exact = [i for i in range(len(lines) - size + 1) if lines[i : i + size] == search]
    if len(exact) == 1:
        return Place(exact[0], exact[0] + size)
    if exact:
        raise _ambiguous(label, exact, search, "")
    shifted = [(i, s) for i in range(len(lines) - size + 1) if (s := _shift(lines[i : i + size], search)) is not None]
    if len(shifted) == 1:
        i, shift = shifted[0]
        return Place(i, i + size, shift)
    if shifted:
        raise _ambiguous(label, [i for i, _ in shifted], search, " once re-indented")
    raise PatchError("unmatched_search", f"{label} not found in the program: {_closest(lines, search)}")


def _shift(code: list[str], search: list[str]) -> Shift | None:
    """The one indentation shift that turns every search line into its code line, if any."""
    found: Shift | None = None
    for have, want in zip(code, search):
        if not want.strip():
            if have.strip():
                return None
            continue
        if have.strip() != want.strip():
            return None
        code_indent, search_indent = _indent(have), _indent(want)
        if code_indent.endswith(search_indent):
            shift = Shift(add=code_indent[: len(code_indent) - len(search_indent)])
        elif search_indent.endswith(code_indent):
            shift = Shift(remove=search_indent[: len(search_indent) - len(code_indent)])
        else:
            return None
        if found is not None and shift != found:
            return None
        found = shift
    return found


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _ambiguous(label: str, starts: list[int], search: list[str], how: str) -> PatchError:
    first = next(line for line in search if line.strip())
    where = ", ".join(str(i + 1) for i in starts[:5])
    return PatchError(
        "ambiguous_search",
        f"{label} matches {len(starts)} places{how} (program lines {where}; its first line {visible(first)}): "
        "include more context lines so it matches one",
    )


def _closest(lines: list[str], search: list[str]) -> str:
    """The first SEARCH line that differs from the program where the SEARCH fits best."""
    best, agreed = 0, -1
    for i in range(len(lines)):
        k = 0
        while k < len(search) and i + k < len(lines) and lines[i + k].strip() == search[k].strip():
            k += 1
        if k > agreed:
            best, agreed = i, k
    if agreed > 0:
        k = next((k for k in range(agreed) if _shift([lines[best + k]], [search[k]]) is None), agreed)
        if k == len(search):
            return f"its lines match program lines {best + 1}-{best + k} except for indentation that does not shift uniformly"
        if best + k >= len(lines):
            return f"its first {k} lines match the last program lines (from line {best + 1}); its line {k + 1} is past the end"
        return f"its line {k + 1} differs from program line {best + k + 1}: {first_difference(lines[best + k], search[k])}"
    first = next(line for line in search if line.strip())
    close = difflib.get_close_matches(first, lines, n=1)
    hint = f"; the closest program line is {visible(close[0])}" if close else ""
    return f"its first line {visible(first)} is nowhere in the program{hint}"
