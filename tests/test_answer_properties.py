"""Properties of the answer parser over random programs: edits inside the EVOLVE-BLOCKs always give
exactly the intended child (or, when the SEARCH is ambiguous, a rejection), and any edit of
frozen code is always rejected, whatever the line endings and final newline of the parent."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evolve.edits.answer import child_from_answer
from evolve.errors import PatchError

START, END = "# EVOLVE-BLOCK-START", "# EVOLVE-BLOCK-END"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

line = st.builds(
    lambda indent, name, value: f"{indent}{name} = {value}",
    st.sampled_from(["", "", "    ", "        "]),
    st.sampled_from(["a", "b", "rate", "total"]),
    st.integers(0, 9),
)


@dataclass(frozen=True)
class Program:
    """frozen[0], block[0], frozen[1], ..., frozen[n]: lines without endings."""

    frozen: tuple[tuple[str, ...], ...]
    blocks: tuple[tuple[str, ...], ...]
    indent: str  # of the marker lines

    def lines(self) -> list[str]:
        out = list(self.frozen[0])
        for body, after in zip(self.blocks, self.frozen[1:]):
            out += [self.indent + START, *body, self.indent + END, *after]
        return out

    def text(self, newline: str = "\n", final: bool = True) -> str:
        joined = newline.join(self.lines())
        return joined + newline if final else joined

    def with_block(self, k: int, body: tuple[str, ...]) -> "Program":
        return Program(self.frozen, self.blocks[:k] + (body,) + self.blocks[k + 1 :], self.indent)


@st.composite
def programs(draw) -> Program:
    n = draw(st.integers(1, 3))
    frozen = tuple(tuple(draw(st.lists(line, max_size=3))) for _ in range(n + 1))
    blocks = tuple(tuple(draw(st.lists(line, min_size=1, max_size=5))) for _ in range(n))
    return Program(frozen, blocks, draw(st.sampled_from(["", "    "])))


styles = st.tuples(st.sampled_from(["\n", "\r\n"]), st.booleans())  # parent newline, final newline


def sr(search: list[str], replace: list[str]) -> str:
    text = lambda lines: "".join(x + "\n" for x in lines)  # noqa: E731
    return f"<<<<<<< SEARCH\n{text(search)}=======\n{text(replace)}>>>>>>> REPLACE\n"


def occurrences(lines: list[str], part: list[str]) -> int:
    return sum(lines[i : i + len(part)] == part for i in range(len(lines) - len(part) + 1))


@SETTINGS
@given(programs(), st.data(), styles)
def test_a_search_replace_inside_a_block_gives_exactly_the_intended_child(program, data, style):
    newline, final = style
    k = data.draw(st.integers(0, len(program.blocks) - 1))
    body = program.blocks[k]
    i = data.draw(st.integers(0, len(body) - 1))
    j = data.draw(st.integers(i + 1, len(body)))
    new = tuple(data.draw(st.lists(line, max_size=4)))
    answer = "Change it.\n" + sr(list(body[i:j]), list(new)) + "Done."
    intended = program.with_block(k, body[:i] + new + body[j:])
    parent = program.text(newline, final)
    if occurrences(program.lines(), list(body[i:j])) > 1:
        with pytest.raises(PatchError) as caught:
            child_from_answer(parent, answer)
        assert caught.value.reason == "ambiguous_search"
    else:
        assert child_from_answer(parent, answer) == intended.text(newline)


@SETTINGS
@given(programs(), st.data(), styles, st.booleans(), st.booleans(), st.sampled_from(["\n", "\r\n"]))
def test_a_rewrite_of_the_blocks_gives_exactly_the_intended_child(program, data, style, drop_tail, python_line, answer_newline):
    newline, final = style
    k = data.draw(st.integers(0, len(program.blocks) - 1))
    new = tuple(data.draw(st.lists(line, min_size=1, max_size=5)))
    intended = program.with_block(k, new)
    shown = intended.lines()
    if drop_tail:
        shown = shown[: len(shown) - len(program.frozen[-1])]
    if python_line:
        shown = ["# python", *shown]
    answer = "Here it is:\n```python\n" + "\n".join(shown) + "\n```\nBetter now."
    assert child_from_answer(program.text(newline, final), answer.replace("\n", answer_newline)) == intended.text(newline)


@st.composite
def frozen_edits(draw, program: Program) -> tuple[list[str], int, str, list[str]]:
    """(child lines, index of the touched frozen line, kind, its new lines) with a real change."""
    lines = program.lines()
    frozen_at = [i for i, _ in enumerate(lines) if _is_frozen(program, i)]
    kind = draw(st.sampled_from(["change", "insert", "delete"]))
    at = draw(st.sampled_from(frozen_at))
    if kind == "change":
        new = draw(line.filter(lambda x: x.rstrip() != lines[at].rstrip()))
        return lines[:at] + [new] + lines[at + 1 :], at, kind, [new]
    if kind == "insert":  # before a frozen line; before an END marker would be inside the block
        at = draw(st.sampled_from([i for i in frozen_at if END not in lines[i]]))
        new = draw(line)
        return lines[:at] + [new] + lines[at:], at, kind, [new, lines[at]]
    return lines[:at] + lines[at + 1 :], at, kind, []


def _is_frozen(program: Program, index: int) -> bool:
    position = len(program.frozen[0])
    if index < position:
        return True
    for body, after in zip(program.blocks, program.frozen[1:]):
        if position < index <= position + len(body):
            return False
        position += len(body) + 2 + len(after)
        if index < position:
            return True
    return False


@SETTINGS
@given(programs(), st.data(), styles)
def test_a_search_replace_that_touches_frozen_code_is_always_rejected(program, data, style):
    newline, final = style
    _, at, _, new = data.draw(frozen_edits(program))
    old = program.lines()[at]
    with pytest.raises(PatchError):
        child_from_answer(program.text(newline, final), sr([old], new))


@SETTINGS
@given(programs(), st.data(), styles)
def test_a_rewrite_that_changes_or_adds_frozen_code_is_always_rejected(program, data, style):
    newline, final = style
    child, _, kind, _ = data.draw(frozen_edits(program).filter(lambda e: e[2] != "delete"))
    answer = "```python\n" + "\n".join(child) + "\n```\n"
    with pytest.raises(PatchError):
        child_from_answer(program.text(newline, final), answer)
