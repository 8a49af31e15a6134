"""EVOLVE-BLOCK regions: which lines of a program a proposer may change.

Editable lines are those strictly between a line containing `# EVOLVE-BLOCK-START` and the next
line containing `# EVOLVE-BLOCK-END`; the marker lines and everything outside are frozen, so the
evaluator's interface to the program cannot be rewritten by an LLM or a mutator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from evolve.edits.text import with_final_newline
from evolve.edits.visible import first_change
from evolve.errors import PatchError

START_MARKER = "# EVOLVE-BLOCK-START"
END_MARKER = "# EVOLVE-BLOCK-END"

# Same newline set as Python's tokenizer, so our line numbers agree with `ast` line numbers.
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


@dataclass(frozen=True)
class Block:
    """One editable region: 1-based inclusive line range (end_line == start_line - 1 when empty)."""

    start_line: int
    end_line: int

    @property
    def is_empty(self) -> bool:
        return self.end_line < self.start_line

    def contains(self, first_line: int, last_line: int) -> bool:
        """Whether lines first_line..last_line all lie inside this block."""
        return self.start_line <= first_line and last_line <= self.end_line


@dataclass(frozen=True)
class Segment:
    """A run of lines that is either frozen (markers included) or editable; `start_line` is 1-based."""

    text: str
    editable: bool
    start_line: int


def split_lines(code: str) -> list[str]:
    """Lines with their line endings kept, so `"".join(split_lines(c)) == c`."""
    return _LINE_RE.findall(code)


def find_blocks(code: str) -> tuple[Block, ...]:
    """All editable regions in order; malformed markers are an error, never guessed around."""
    blocks: list[Block] = []
    open_at: int | None = None
    for lineno, line in enumerate(split_lines(code), start=1):
        has_start, has_end = START_MARKER in line, END_MARKER in line
        if has_start and has_end:
            raise PatchError("bad_blocks", f"line {lineno}: both EVOLVE-BLOCK markers on one line")
        if has_start:
            if open_at is not None:
                raise PatchError(
                    "bad_blocks",
                    f"line {lineno}: nested EVOLVE-BLOCK-START (block opened at line {open_at})",
                )
            open_at = lineno
        elif has_end:
            if open_at is None:
                raise PatchError("bad_blocks", f"line {lineno}: EVOLVE-BLOCK-END without a START")
            blocks.append(Block(start_line=open_at + 1, end_line=lineno - 1))
            open_at = None
    if open_at is not None:
        raise PatchError("bad_blocks", f"line {open_at}: EVOLVE-BLOCK-START is never closed")
    if not blocks:
        raise PatchError("bad_blocks", "program has no EVOLVE-BLOCK-START / EVOLVE-BLOCK-END region")
    return tuple(blocks)


def split_program(code: str) -> tuple[Segment, ...]:
    """Alternating frozen/editable segments: frozen, editable, frozen, ..., frozen (2n+1 items)."""
    lines = split_lines(code)
    segments: list[Segment] = []
    next_line = 1  # first line not yet assigned to a segment
    for block in find_blocks(code):
        frozen = "".join(lines[next_line - 1 : block.start_line - 1])
        segments.append(Segment(text=frozen, editable=False, start_line=next_line))
        editable = "".join(lines[block.start_line - 1 : block.end_line])
        segments.append(Segment(text=editable, editable=True, start_line=block.start_line))
        next_line = block.end_line + 1
    segments.append(Segment(text="".join(lines[next_line - 1 :]), editable=False, start_line=next_line))
    return tuple(segments)


def editable_text(code: str) -> str:
    """The editable regions joined in order (for prompts and code-size features)."""
    return "".join(s.text for s in split_program(code) if s.editable)


def check_edit(original: str, new: str) -> None:
    """Raise PatchError("outside_block") unless `new` differs from `original` only inside blocks.

    A missing final newline is not a difference (a seed without one behaves like one with it);
    the message names the first frozen line that changed, with its whitespace visible.
    """
    old_segments = split_program(with_final_newline(original))
    try:
        new_segments = split_program(with_final_newline(new))
    except PatchError as exc:
        raise PatchError("outside_block", f"EVOLVE-BLOCK markers were changed: {exc}") from exc
    if len(new_segments) != len(old_segments):
        raise PatchError(
            "outside_block",
            f"number of EVOLVE-BLOCKs changed from {len(old_segments) // 2} to {len(new_segments) // 2}",
        )
    for old, new_seg in zip(old_segments, new_segments):
        if not old.editable and old.text != new_seg.text:
            change = first_change(split_lines(old.text), split_lines(new_seg.text), old.start_line)
            raise PatchError("outside_block", f"edit outside EVOLVE-BLOCKs: {change}")
