"""Fenced code blocks (``` or ~~~) in an answer, including one the answer ends inside."""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+.-]*)[^`]*$")
_CLOSE = re.compile(r"^\s*(`{3,}|~{3,})\s*$")
PYTHON_TAGS = frozenset({"python", "py", "python3"})


@dataclass(frozen=True)
class Fence:
    """One fenced block: its language tag (lower case, "" when bare) and the lines inside."""

    tag: str
    body: str  # every line ends with "\n"
    line: int  # answer line of the opening fence
    closed: bool  # False: the answer ends inside it

    @property
    def is_python(self) -> bool:
        return self.tag in PYTHON_TAGS


def find_fences(text: str) -> list[Fence]:
    """Every fenced block of an LF answer, in order. A fence closes on a bare fence line of the
    same character, at least as long; anything else inside (a ```python line too) is body."""
    fences: list[Fence] = []
    opener, tag, start, body = "", "", 0, []
    for number, line in enumerate(text.split("\n"), start=1):
        if not opener:
            match = _OPEN.match(line)
            if match:
                opener, tag, start, body = match.group(1), match.group(2).lower(), number, []
            continue
        close = _CLOSE.match(line)
        if close and close.group(1)[0] == opener[0] and len(close.group(1)) >= len(opener):
            fences.append(Fence(tag, "".join(b + "\n" for b in body), start, closed=True))
            opener = ""
        else:
            body.append(line)
    if opener:
        while body and not body[-1].strip():
            body.pop()
        fences.append(Fence(tag, "".join(b + "\n" for b in body), start, closed=False))
    return fences
