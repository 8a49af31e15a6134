"""Line endings: answers and parents are compared with LF endings and a final newline, and the
child is written back in the parent's own style, so CRLF files and files without a final newline
behave exactly like their LF, newline-terminated twins."""

from __future__ import annotations

import re

_ANY_NEWLINE = re.compile(r"\r\n|\r")


def to_lf(text: str) -> str:
    """CRLF and lone CR (both newlines to Python's tokenizer) as LF."""
    return _ANY_NEWLINE.sub("\n", text)


def with_final_newline(text: str, newline: str = "\n") -> str:
    return text if not text or text.endswith(("\n", "\r")) else text + newline


def normalized(code: str) -> str:
    """LF endings and a final newline: the form every comparison is made in."""
    return with_final_newline(to_lf(code))


def newline_of(code: str) -> str:
    """The file's line ending: CRLF when most of its lines end that way, else LF."""
    crlf = code.count("\r\n")
    return "\r\n" if crlf and crlf >= code.count("\n") - crlf else "\n"
