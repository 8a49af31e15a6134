"""Lines shown with their whitespace made visible, and the first change between two texts.

A rejection message must never print two texts that look the same: a lost indent, a tab, a
trailing space or a missing newline are exactly the differences a reader cannot see otherwise.
"""

from __future__ import annotations

import difflib

_SHOWN = {" ": "·", "\t": "→", "\r": "␍", "\n": "⏎"}
_ESCAPED = frozenset("·→␍⏎")  # our own symbols, when the code itself contains them
MAX_WIDTH = 100


def visible(line: str, focus: int = 0) -> str:
    """`line` quoted, spaces as ·, tabs as →, CR as ␍, newline as ⏎ (absent: no newline), other
    invisible characters escaped; long lines cut to a window around column `focus`."""
    shown = [_show(ch) for ch in line]
    start = max(0, min(focus - MAX_WIDTH // 3, len(shown) - MAX_WIDTH))
    text = "".join(shown[start : start + MAX_WIDTH])
    return "'" + ("…" if start else "") + text + ("…" if start + MAX_WIDTH < len(shown) else "") + "'"


def _show(ch: str) -> str:
    if ch in _SHOWN:
        return _SHOWN[ch]
    if ch in _ESCAPED or not ch.isprintable() or ch.isspace():
        return f"\\u{ord(ch):04x}"
    return ch


def first_difference(expected: str, got: str) -> str:
    """`expected '…', got '…'` for two lines, both cut around their first differing character."""
    column = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
    return f"expected {visible(expected, column)}, got {visible(got, column)}"


def first_change(old: list[str], new: list[str], first_line: int, what: str = "frozen line") -> str:
    """The first place `new` departs from `old` (lines with their endings), in words:
    a changed, removed or added line, numbered in `old` from `first_line`."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        number = first_line + i1
        if tag == "replace":
            return f"{what} {number} changed: {first_difference(old[i1], new[j1])}"
        if tag == "delete":
            return f"{what} {number} was removed: {visible(old[i1])}"
        place = f"before {what} {number}" if i1 < len(old) else f"after {what} {number - 1}"
        return f"a line was added {place}: {visible(new[j1])}"
    return "no difference"
