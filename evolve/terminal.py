"""Candidate text is data: show it on a terminal with control characters escaped, or in one line.

A candidate (or an LLM answer) can hold escape sequences in a string literal that move the
cursor, erase a line and print something harmless over it, hiding code from a reviewer who reads
`evolve best` while `evolve export` still writes it out. Tabs and newlines pass; every other C0
or C1 control character is shown as \\xNN.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def last_line(text: str) -> str:
    """The informative end of a traceback or multi-line detail, for one-line messages."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no detail"
