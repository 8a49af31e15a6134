"""The answer-to-child path: one entry point for every LLM answer, and the checks every child passes.

Work happens on the parent with LF endings and a final newline; the child is then rebuilt from
the parent's own frozen text and the new block bodies in the parent's line endings, so nothing
outside the EVOLVE-BLOCKs can change, not even a byte of whitespace.
"""

from __future__ import annotations

from evolve.blocks import check_edit, split_program
from evolve.edits.rewrite import apply_rewrite
from evolve.edits.search_replace import apply_edits, has_diff_markers, parse_edits
from evolve.edits.text import newline_of, normalized, to_lf, with_final_newline
from evolve.errors import PatchError
from evolve.patching import check_syntax


def child_from_answer(parent: str, answer: str) -> str:
    """The child an answer describes: SEARCH/REPLACE edits or a program in a fence (models mix
    the two up whatever they were asked for). PatchError says why there is none."""
    if not answer.strip():
        raise PatchError("empty_response", "the model returned no text")
    code, text = normalized(parent), to_lf(answer)
    child = apply_edits(code, parse_edits(text)) if has_diff_markers(text) else apply_rewrite(code, text)
    check_edit(code, child)
    return in_parent_style(parent, child)


def in_parent_style(parent: str, child: str) -> str:
    """The parent's frozen text, byte for byte, around the child's block bodies (in the parent's
    line endings), with a final newline."""
    newline = newline_of(parent)
    bodies = iter(s.text.replace("\n", newline) for s in split_program(child) if s.editable)
    joined = "".join(next(bodies) if s.editable else s.text for s in split_program(parent))
    return with_final_newline(joined, newline)


def checked_child(parent: str, code: str) -> str:
    """What every proposed child (any proposer) passes before evaluation: it ends with a newline,
    changes nothing outside the EVOLVE-BLOCKs, and compiles."""
    code = with_final_newline(code)
    check_edit(parent, code)
    check_syntax(code)
    return code
