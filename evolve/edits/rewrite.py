"""Rewrite answers: a program in a fence whose EVOLVE-BLOCK bodies are spliced into the parent.

The program's frozen parts are only checked, never used: they must equal the parent's (trailing
whitespace aside), except that the code before the first EVOLVE-BLOCK-START or after the last
EVOLVE-BLOCK-END may be left out whole, and a `# python` first line is dropped. So a rewrite that
stops at its last `# EVOLVE-BLOCK-END` is accepted, and one that changes a frozen line is not.
"""

from __future__ import annotations

import re

from evolve.blocks import END_MARKER, START_MARKER, Segment, split_lines, split_program
from evolve.edits.fences import Fence, find_fences
from evolve.edits.text import normalized
from evolve.edits.visible import first_change
from evolve.errors import PatchError

_LANGUAGE_LINE = re.compile(r"^\s*#?\s*(python3?|py)\s*$", re.IGNORECASE)


def apply_rewrite(code: str, text: str) -> str:
    """The child of LF `code` (final newline) from the program in an LF answer."""
    fences = [f for f in find_fences(text) if f.body.strip()]
    if fences and not fences[-1].closed:
        return _from_cut_off(code, fences[-1])
    pool = [f for f in fences if f.is_python] or [f for f in fences if not f.tag]
    if not pool:
        raise PatchError("no_code", "answer has neither SEARCH/REPLACE edits nor a ```python block")
    programs = [f for f in pool if START_MARKER in f.body or END_MARKER in f.body] or [max(pool, key=lambda f: len(f.body))]
    children: dict[str, int] = {}
    errors: list[PatchError] = []
    for fence in programs:
        try:
            child = splice(code, fence.body)
        except PatchError as exc:
            errors.append(exc)
            continue
        if child != code:
            children.setdefault(child, fence.line)
    if len(children) > 1:
        lines = ", ".join(str(n) for n in children.values())
        raise PatchError(
            "ambiguous_rewrite", f"the answer holds {len(children)} different programs (fences at answer lines {lines}); give one"
        )
    if children:
        return next(iter(children))
    if errors:
        raise errors[-1]
    return code  # every program in the answer is the parent itself


def _from_cut_off(code: str, fence: Fence) -> str:
    """An answer that ends inside a fence: only that fence counts, and only if it is whole."""
    try:
        return splice(code, fence.body)
    except PatchError as exc:
        raise PatchError(
            "cut_off",
            f"the answer ends inside the fence opened at answer line {fence.line} and the program there is "
            f"incomplete ({exc}): it was cut off",
        ) from None


def splice(code: str, program: str) -> str:
    """`code` with its EVOLVE-BLOCK bodies taken from `program`; PatchError if frozen parts differ."""
    program = _without_language_line(normalized(program), code)
    old = split_program(code)
    try:
        new = split_program(program)
    except PatchError as exc:
        raise PatchError("outside_block", f"the program in the answer has broken EVOLVE-BLOCK markers: {exc}") from None
    if len(new) != len(old):
        raise PatchError(
            "outside_block", f"the program in the answer has {len(new) // 2} EVOLVE-BLOCK(s), the parent {len(old) // 2}"
        )
    last = len(old) - 1
    for k in range(0, len(old), 2):
        _check_frozen(old[k], new[k], head=k == 0, tail=k == last)
    return "".join(n.text if o.editable else o.text for o, n in zip(old, new))


def _without_language_line(program: str, code: str) -> str:
    lines = split_lines(program)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not _LANGUAGE_LINE.match(lines[first]):
        return program
    parent_first = next((line for line in split_lines(code) if line.strip()), "")
    if parent_first.strip() == lines[first].strip():
        return program
    return "".join(lines[:first] + lines[first + 1 :])


def _check_frozen(old: Segment, new: Segment, head: bool, tail: bool) -> None:
    """Frozen text of the answer against the parent's, trailing whitespace and blank lines at the
    file's two ends aside; the head before the first START or the tail after the last END may be
    left out (only the marker line itself present)."""
    old_lines = [line.rstrip() + "\n" for line in split_lines(old.text)]
    new_lines = [line.rstrip() + "\n" for line in split_lines(new.text)]
    skipped = 0
    if head:
        skipped = _leading_blank(old_lines)
        old_lines, new_lines = old_lines[skipped:], new_lines[_leading_blank(new_lines) :]
        if len(new_lines) == 1 and new_lines == old_lines[-1:]:
            return  # everything before the first EVOLVE-BLOCK-START left out
    if tail:
        old_lines, new_lines = _without_trailing_blank(old_lines), _without_trailing_blank(new_lines)
        if len(new_lines) == 1 and new_lines == old_lines[:1]:
            return  # everything after the last EVOLVE-BLOCK-END left out
    if old_lines != new_lines:
        change = first_change(old_lines, new_lines, old.start_line + skipped)
        raise PatchError("outside_block", f"the program in the answer changes frozen code: {change}")


def _leading_blank(lines: list[str]) -> int:
    return next((i for i, line in enumerate(lines) if line.strip()), len(lines))


def _without_trailing_blank(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    return lines[:end]
