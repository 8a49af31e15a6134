"""EVOLVE-BLOCK checks, syntax checks, unified diffs and dedupe hashes (answers: test_answers.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from evolve.blocks import Block, check_edit, editable_text, find_blocks, split_program
from evolve.dedupe import code_hash, normalized_hash
from evolve.errors import PatchError
from evolve.patching import check_syntax, unified_diff

PROGRAM = """\
import math

# EVOLVE-BLOCK-START
ALPHA = 0.5
def score(x):
    return ALPHA * x
# EVOLVE-BLOCK-END

def frozen_helper(y):
    return y + 1

# EVOLVE-BLOCK-START
# EVOLVE-BLOCK-END

def run():
    return score(2.0)
"""


def test_find_blocks_multi_block():
    assert find_blocks(PROGRAM) == (Block(4, 6), Block(13, 12))
    assert find_blocks(PROGRAM)[1].is_empty
    segments = split_program(PROGRAM)
    assert [s.editable for s in segments] == [False, True, False, True, False]
    assert "".join(s.text for s in segments) == PROGRAM
    assert editable_text(PROGRAM) == "ALPHA = 0.5\ndef score(x):\n    return ALPHA * x\n"


@pytest.mark.parametrize(
    "code",
    [
        "x = 1\n",
        "# EVOLVE-BLOCK-START\nx = 1\n",
        "# EVOLVE-BLOCK-END\nx = 1\n",
        "# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\n# EVOLVE-BLOCK-END\n",
    ],
)
def test_find_blocks_rejects_bad_markers(code):
    with pytest.raises(PatchError) as exc:
        find_blocks(code)
    assert exc.value.reason == "bad_blocks"


def test_edit_outside_block_rejected():
    child = PROGRAM.replace("return y + 1", "return y + 2")
    with pytest.raises(PatchError) as exc:
        check_edit(PROGRAM, child)
    assert exc.value.reason == "outside_block"
    assert "frozen line 10 changed: expected '····return·y·+·1⏎', got '····return·y·+·2⏎'" in str(exc.value)


def test_a_missing_final_newline_is_not_an_edit_and_whitespace_shows_in_messages():
    check_edit(PROGRAM.rstrip("\n"), PROGRAM)  # the seed-without-final-newline bug: no longer outside_block
    check_edit(PROGRAM, PROGRAM.rstrip("\n"))
    cases = {
        PROGRAM.replace("    return y + 1\n", "  return y + 1\n"): "expected '····return·y·+·1⏎', got '··return·y·+·1⏎'",
        PROGRAM.replace("    return y + 1\n", "    return y + 1 \n"): "got '····return·y·+·1·⏎'",
        PROGRAM.replace("    return y + 1\n", "\treturn y + 1\n"): "got '→return·y·+·1⏎'",
        PROGRAM.replace("    return y + 1\n", "    return y + 1\r\n"): "got '····return·y·+·1␍⏎'",
        PROGRAM.replace("import math\n", "import math\nimport os\n"): "a line was added before frozen line 2: 'import·os⏎'",
        PROGRAM.replace("def run():\n", ""): "frozen line 15 was removed: 'def·run():⏎'",
    }
    for child, message in cases.items():
        with pytest.raises(PatchError) as exc:
            check_edit(PROGRAM, child)
        assert exc.value.reason == "outside_block" and message in str(exc.value), str(exc.value)


def test_removing_marker_rejected():
    child = PROGRAM.replace("# EVOLVE-BLOCK-END\n\ndef frozen", "\ndef frozen", 1)
    with pytest.raises(PatchError) as exc:
        check_edit(PROGRAM, child)
    assert exc.value.reason == "outside_block"


def test_edit_inside_blocks_accepted_and_may_grow():
    child = PROGRAM.replace("ALPHA = 0.5\n", "ALPHA = 0.7\nBETA = 2\n").replace(
        "# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END", "# EVOLVE-BLOCK-START\nGAMMA = 1\n# EVOLVE-BLOCK-END"
    )
    check_edit(PROGRAM, child)  # does not raise
    shrunk = PROGRAM.replace("ALPHA = 0.5\ndef score(x):\n    return ALPHA * x\n", "")
    check_edit(PROGRAM, shrunk)


def test_check_syntax():
    check_syntax(PROGRAM)
    with pytest.raises(PatchError) as exc:
        check_syntax("x = 1\ndef f(:\n    pass\n")
    assert exc.value.reason == "syntax_error" and str(exc.value).startswith("line 2:")


DIFF_CASES = [
    ("a\nb\nc\n", "a\nB\nc\n"),
    ("a\nb\nc", "a\nb\nC"),  # neither has a trailing newline
    ("a\nb\nc\n", "a\nb\nc"),  # newline removed
    ("a\nb\nc", "a\nb\nc\nd\n"),  # newline added
    (PROGRAM, PROGRAM.replace("ALPHA = 0.5\n", "ALPHA = 0.6\nBETA = 1\n").replace("score(2.0)", "3")),
]


@pytest.mark.parametrize("old,new", DIFF_CASES)
@pytest.mark.parametrize("tool", ["patch", "git"])
def test_unified_diff_applies(tmp_path: Path, old: str, new: str, tool: str):
    target = tmp_path / "pkg" / "policy.py"
    target.parent.mkdir()
    target.write_bytes(old.encode())
    diff = unified_diff(old, new, "pkg/policy.py")
    assert diff.startswith("--- a/pkg/policy.py\n+++ b/pkg/policy.py\n")
    (tmp_path / "change.diff").write_bytes(diff.encode())
    if tool == "patch":
        cmd = ["patch", "-p1", "--batch", "-i", "change.diff"]
    else:
        cmd = ["git", "apply", "change.diff"]
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert target.read_bytes() == new.encode()


def test_unified_diff_of_identical_text_is_empty():
    assert unified_diff(PROGRAM, PROGRAM, "x.py") == ""


def test_hashes():
    assert code_hash(PROGRAM) == code_hash(str(PROGRAM))
    assert code_hash(PROGRAM) != code_hash(PROGRAM + " ")
    reformatted = PROGRAM.replace("ALPHA * x", "ALPHA*x  # scaled").replace(
        "import math\n", "import math  # needed\n\n\n"
    )
    assert code_hash(reformatted) != code_hash(PROGRAM)
    assert normalized_hash(reformatted) == normalized_hash(PROGRAM)
    tiny = PROGRAM.replace("ALPHA = 0.5", "ALPHA = 0.500001")
    assert normalized_hash(tiny) == normalized_hash(PROGRAM)
    real = PROGRAM.replace("ALPHA = 0.5", "ALPHA = 0.51")
    assert normalized_hash(real) != normalized_hash(PROGRAM)
    logic = PROGRAM.replace("ALPHA * x", "ALPHA + x")
    assert normalized_hash(logic) != normalized_hash(PROGRAM)
    broken = "def f(:\n   return 1\n"
    assert normalized_hash(broken) == normalized_hash("def  f(:\n return 1")
    assert normalized_hash(broken) != normalized_hash("def f(:\n   return 2\n")
