"""EVOLVE-BLOCK checks, SEARCH/REPLACE application, fenced code, unified diffs and dedupe hashes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from evolve.blocks import Block, check_edit, editable_text, find_blocks, split_program
from evolve.dedupe import code_hash, normalized_hash
from evolve.errors import PatchError
from evolve.patching import (
    Edit,
    apply_full_rewrite,
    apply_search_replace,
    check_syntax,
    extract_fenced_code,
    parse_search_replace,
    unified_diff,
)

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
    assert "line 10" in str(exc.value) and "return y + 1" in str(exc.value)


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


def diff_text(*pairs: tuple[str, str]) -> str:
    parts = ["Here is my change:\n```diff"]
    for old, new in pairs:
        parts.append(f"<<<<<<< SEARCH\n{old}=======\n{new}>>>>>>> REPLACE")
    parts.append("```\nThis should help.")
    return "\n".join(parts)


def test_parse_and_apply_multi_edit_diff():
    text = diff_text(
        ("ALPHA = 0.5\n", "ALPHA = 0.9\n"),
        ("    return ALPHA * x\n", "    y = ALPHA * x\n    return y * y\n"),
    )
    edits = parse_search_replace(text)
    assert edits == [
        Edit("ALPHA = 0.5\n", "ALPHA = 0.9\n"),
        Edit("    return ALPHA * x\n", "    y = ALPHA * x\n    return y * y\n"),
    ]
    child = apply_search_replace(PROGRAM, edits)
    assert "ALPHA = 0.9\n" in child and "    return y * y\n" in child
    assert child.count("\n") == PROGRAM.count("\n") + 1
    check_syntax(child)


def test_unmatched_search_fails_loudly_and_is_not_partially_applied():
    original = PROGRAM
    edits = parse_search_replace(
        diff_text(("ALPHA = 0.5\n", "ALPHA = 0.9\n"), ("BETA = 7\n", "BETA = 8\n"))
    )
    with pytest.raises(PatchError) as exc:
        apply_search_replace(original, edits)
    assert exc.value.reason == "unmatched_search"
    assert "BETA = 7" in str(exc.value)
    assert original == PROGRAM and "ALPHA = 0.5" in original


def test_ambiguous_search_fails():
    code = "# EVOLVE-BLOCK-START\nx = 1\ny = 2\nx = 1\n# EVOLVE-BLOCK-END\n"
    with pytest.raises(PatchError) as exc:
        apply_search_replace(code, [Edit("x = 1\n", "x = 3\n")])
    assert exc.value.reason == "ambiguous_search"


def test_search_matching_frozen_code_is_rejected():
    edits = [Edit("    return y + 1\n", "    return y + 5\n")]
    with pytest.raises(PatchError) as exc:
        apply_search_replace(PROGRAM, edits)
    assert exc.value.reason == "outside_block"


def test_empty_search_is_an_error():
    with pytest.raises(PatchError) as exc:
        apply_search_replace(PROGRAM, [Edit("", "x = 1\n")])
    assert exc.value.reason == "empty_search"


@pytest.mark.parametrize(
    "text,reason",
    [
        ("<<<<<<< SEARCH\nx = 1\n>>>>>>> REPLACE\n", "malformed_diff"),
        ("<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n", "malformed_diff"),
        ("I think the code is fine as it is.", "no_diff"),
    ],
)
def test_malformed_or_missing_diff(text, reason):
    with pytest.raises(PatchError) as exc:
        parse_search_replace(text)
    assert exc.value.reason == reason


def test_fenced_code_extraction_picks_python_block():
    answer = (
        "Run it with:\n```bash\npython main.py --with --many --flags --to --be --long\n```\n"
        "Here is the program:\n```python\nx = 1\n```\nand a note\n```\nnot code\n```\n"
    )
    assert extract_fenced_code(answer) == "x = 1\n"
    assert extract_fenced_code("```\ny = 2\n```") == "y = 2\n"
    with pytest.raises(PatchError) as exc:
        extract_fenced_code("Sorry, I cannot help with that.")
    assert exc.value.reason == "no_code"


def test_full_rewrite_checks_blocks():
    new = PROGRAM.replace("ALPHA = 0.5", "ALPHA = 0.25")
    assert apply_full_rewrite(PROGRAM, f"Sure:\n```python\n{new}```\n") == new
    bad = new.replace("return score(2.0)", "return 1e9")
    with pytest.raises(PatchError) as exc:
        apply_full_rewrite(PROGRAM, f"```python\n{bad}```")
    assert exc.value.reason == "outside_block"


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
