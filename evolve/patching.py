"""Turning a proposer's text answer into child code, loudly rejecting anything ambiguous.

Two answer formats are supported: SEARCH/REPLACE diffs (each SEARCH must match exactly once) and
full rewrites in a fenced code block. Either way the child may only differ inside EVOLVE-BLOCKs.
A failed patch is never partially applied; the PatchError reason is stored with the candidate.
"""

from __future__ import annotations

import difflib
import re
import warnings
from dataclasses import dataclass

from evolve.blocks import check_edit, split_lines
from evolve.errors import PatchError

_SEARCH_RE = re.compile(r"^\s*<{5,}\s*SEARCH\s*$")
_DIVIDER_RE = re.compile(r"^\s*={5,}\s*$")
_REPLACE_RE = re.compile(r"^\s*>{5,}\s*REPLACE\s*$")
_FENCE_RE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+.-]*)[^`]*$")
_PYTHON_TAGS = {"python": {"python", "py", "python3"}}


@dataclass(frozen=True)
class Edit:
    """One SEARCH/REPLACE pair; both texts keep a trailing newline per line."""

    search: str
    replace: str


def parse_search_replace(text: str) -> list[Edit]:
    """All SEARCH/REPLACE blocks in an answer, ignoring prose and ``` fences around them."""
    edits: list[Edit] = []
    state, search, replace, opened_at = "out", [], [], 0
    lines = text.replace("\r\n", "\n").split("\n")
    for lineno, line in enumerate(lines, start=1):
        if state == "out":
            if _SEARCH_RE.match(line):
                state, search, replace, opened_at = "search", [], [], lineno
            elif _REPLACE_RE.match(line):
                raise PatchError("malformed_diff", f"answer line {lineno}: REPLACE marker without SEARCH")
        elif state == "search":
            if _DIVIDER_RE.match(line):
                state = "replace"
            elif _SEARCH_RE.match(line) or _REPLACE_RE.match(line):
                raise PatchError(
                    "malformed_diff", f"answer line {opened_at}: SEARCH block has no ======= divider"
                )
            else:
                search.append(line + "\n")
        else:  # replace
            if _REPLACE_RE.match(line):
                edits.append(Edit(search="".join(search), replace="".join(replace)))
                state = "out"
            elif _SEARCH_RE.match(line) or _DIVIDER_RE.match(line):
                raise PatchError(
                    "malformed_diff", f"answer line {opened_at}: SEARCH block has no >>>>>>> REPLACE end"
                )
            else:
                replace.append(line + "\n")
    if state != "out":
        missing = "======= divider" if state == "search" else ">>>>>>> REPLACE end"
        raise PatchError("malformed_diff", f"answer line {opened_at}: SEARCH block has no {missing}")
    if not edits:
        raise PatchError("no_diff", "answer contains no <<<<<<< SEARCH / >>>>>>> REPLACE block")
    return edits


def _line_anchored_matches(code: str, search: str) -> list[int]:
    """Start offsets where `search` occurs beginning at a line start (overlaps included)."""
    found, start = [], 0
    while (i := code.find(search, start)) != -1:
        if i == 0 or code[i - 1] in "\r\n":
            found.append(i)
        start = i + 1
    return found


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def apply_search_replace(code: str, edits: list[Edit]) -> str:
    """Apply edits in order; every SEARCH must match exactly once in the current text."""
    current = code
    for n, edit in enumerate(edits, start=1):
        if not edit.search.strip():
            raise PatchError("empty_search", f"SEARCH block {n} is empty")
        search, replace = edit.search, edit.replace
        if "\r\n" in code and "\r" not in search:  # answers are parsed with \n; match CRLF files
            search, replace = search.replace("\n", "\r\n"), replace.replace("\n", "\r\n")
        matches = _line_anchored_matches(current, search)
        if not matches and not current.endswith("\n") and current.endswith(search[:-1]):
            # The SEARCH ends at a last line that has no newline in the program.
            search, replace = search[:-1], replace.removesuffix("\n")
            at = len(current) - len(search)
            matches = [at] if at == 0 or current[at - 1] in "\r\n" else []
        if not matches:
            first = _first_line(edit.search)
            close = difflib.get_close_matches(first, [ln.strip() for ln in current.splitlines()], n=1)
            hint = f"; closest program line: {close[0]!r}" if close else ""
            raise PatchError(
                "unmatched_search", f"SEARCH block {n} not found in program: first line {first!r}{hint}"
            )
        if len(matches) > 1:
            raise PatchError(
                "ambiguous_search",
                f"SEARCH block {n} matches {len(matches)} places (first line {_first_line(edit.search)!r}); "
                "include more context lines",
            )
        i = matches[0]
        current = current[:i] + replace + current[i + len(search) :]
    check_edit(code, current)
    return current


def extract_fenced_code(text: str, language: str = "python") -> str:
    """The largest ```python block (or, failing that, the largest bare ``` block)."""
    tags = _PYTHON_TAGS.get(language, {language})
    tagged: list[str] = []
    bare: list[str] = []
    fence: str | None = None
    tag, body = "", []
    for line in text.replace("\r\n", "\n").split("\n"):
        m = _FENCE_RE.match(line)
        if fence is None:
            if m:
                fence, tag, body = m.group(1), m.group(2).lower(), []
        elif m and not m.group(2) and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
            (tagged if tag in tags else bare if not tag else []).append("\n".join(body) + "\n")
            fence = None
        else:
            body.append(line)
    pool = [b for b in tagged if b.strip()] or [b for b in bare if b.strip()]
    if not pool:
        raise PatchError("no_code", f"answer contains no ```{language} fenced code block")
    return max(pool, key=len)


def apply_full_rewrite(parent: str, text: str) -> str:
    """Child code from a full-rewrite answer, checked to touch only EVOLVE-BLOCKs."""
    code = extract_fenced_code(text)
    if not parent.endswith("\n"):
        code = code.removesuffix("\n")
    check_edit(parent, code)
    return code


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
