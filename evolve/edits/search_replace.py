"""SEARCH/REPLACE answers: parse every edit, then apply them in order, all or nothing.

Tolerated slips, each with a single reading: prose, tags and ``` fences around the blocks; a fence
wrapping a SEARCH or REPLACE section; a stray `=======` or `>>>>>>> REPLACE` between blocks; a
doubled `=======` next to another one. An answer that ends inside a block was cut off, and none
of its edits is applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from evolve.blocks import split_lines
from evolve.edits.locate import locate
from evolve.errors import PatchError

_SEARCH = re.compile(r"^\s*<{5,}\s*SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,}\s*$")
_REPLACE = re.compile(r"^\s*>{5,}\s*REPLACE\s*$")
_FENCE_OPEN = re.compile(r"^\s*(`{3,}|~{3,})\s*[\w+.-]*\s*$")
_FENCE_CLOSE = re.compile(r"^\s*(`{3,}|~{3,})\s*$")


@dataclass(frozen=True)
class Edit:
    """One SEARCH/REPLACE pair; both texts keep a trailing newline per line."""

    search: str
    replace: str
    line: int = 0  # answer line of its SEARCH marker, for messages


def _marker(line: str) -> str | None:
    if _SEARCH.match(line):
        return "search"
    if _DIVIDER.match(line):
        return "divider"
    if _REPLACE.match(line):
        return "replace"
    return None


def has_diff_markers(text: str) -> bool:
    """Whether the answer means to be SEARCH/REPLACE edits (a SEARCH or REPLACE marker line)."""
    return any(_marker(line) in ("search", "replace") for line in text.split("\n"))


def parse_edits(text: str) -> tuple[Edit, ...]:
    """All edits of an LF answer, in order; PatchError for anything without a single reading."""
    lines = text.split("\n")
    edits: list[Edit] = []
    state, opened, stray_divider = "out", 0, 0
    search: list[str] = []
    replace: list[str] = []
    for number, line in enumerate(lines, start=1):
        kind = _marker(line)
        if state == "out":
            if kind == "search":
                state, opened, stray_divider, search, replace = "search", number, 0, [], []
            elif kind == "divider":
                stray_divider = number
            elif kind == "replace" and stray_divider:
                raise PatchError(
                    "malformed_diff",
                    f"answer line {number}: >>>>>>> REPLACE closes a block with no <<<<<<< SEARCH "
                    f"(its ======= is at answer line {stray_divider})",
                )
            # a REPLACE marker with no divider before it closes nothing: a stray, repeated marker
        elif state == "search":
            if kind is None:
                search.append(line)
            elif kind == "divider":
                state = "replace"
            else:
                raise PatchError("malformed_diff", f"answer line {opened}: SEARCH block has no ======= divider")
        elif kind is None:
            replace.append(line)
        elif kind == "replace":
            edits.append(_edit(search, replace, opened))
            state = "out"
        elif kind == "divider" and _doubled(lines, number, replace):
            continue
        else:
            raise PatchError("malformed_diff", f"answer line {opened}: SEARCH block has no >>>>>>> REPLACE end")
    if state != "out":
        raise PatchError(
            "cut_off",
            f"the answer ends inside the SEARCH/REPLACE block opened at answer line {opened}: "
            "it was cut off, so none of its edits is applied",
        )
    if not edits:
        raise PatchError("no_diff", "answer contains no <<<<<<< SEARCH / >>>>>>> REPLACE block")
    return tuple(edits)


def _doubled(lines: list[str], number: int, replace: list[str]) -> bool:
    """A second ======= right after the first one, or right before >>>>>>> REPLACE."""
    right_after = not replace and _marker(lines[number - 2]) == "divider"
    right_before = number < len(lines) and _marker(lines[number]) == "replace"
    return right_after or right_before


def _edit(search: list[str], replace: list[str], opened: int) -> Edit:
    def text(section: list[str]) -> str:
        if len(section) >= 2 and _FENCE_OPEN.match(section[0]) and _FENCE_CLOSE.match(section[-1]):
            section = section[1:-1]  # a section wrapped in its own ``` fence
        return "".join(line + "\n" for line in section)

    return Edit(text(search), text(replace), opened)


def apply_edits(code: str, edits: tuple[Edit, ...]) -> str:
    """Apply edits in order to LF code with a final newline; each SEARCH must have one place."""
    lines = split_lines(code)
    for number, edit in enumerate(edits, start=1):
        if not edit.search.strip():
            raise PatchError("empty_search", f"SEARCH block {number} is empty")
        place = locate(lines, split_lines(edit.search), f"SEARCH block {number}")
        lines[place.start : place.end] = place.reindent(split_lines(edit.replace), f"SEARCH block {number}")
    return "".join(lines)
