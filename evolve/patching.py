"""Checks and views of a child program: does it compile, and its unified diff against the parent.

How an LLM answer becomes a child program is in `evolve.edits`.
"""

from __future__ import annotations

import difflib
import warnings

from evolve.blocks import split_lines
from evolve.errors import PatchError


def check_syntax(code: str) -> None:
    """Raise PatchError("syntax_error", "line N: msg") unless `code` compiles."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(code, "<candidate>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise PatchError("syntax_error", f"line {exc.lineno}: {exc.msg}") from exc
    except ValueError as exc:  # e.g. source contains null bytes
        raise PatchError("syntax_error", f"line 1: {exc}") from exc


def unified_diff(old: str, new: str, path: str) -> str:
    """A unified diff `--- a/path` / `+++ b/path` that `git apply` and `patch -p1` accept."""
    if old == new:
        return ""
    out: list[str] = []
    lines = difflib.unified_diff(
        split_lines(old), split_lines(new), fromfile=f"a/{path}", tofile=f"b/{path}"
    )
    for line in lines:
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)
