"""LLM answers to children: the corpus of real-world formats, each slip accepted only when it has one
reading, and messages that show what differs (whitespace included)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from answer_corpus import CORPUS_FILE, all_cases

from evolve.edits.answer import child_from_answer
from evolve.edits.corpus import APPLIED, AnswerRecord, read_records, try_answer, write_records
from evolve.edits.fences import find_fences
from evolve.edits.search_replace import Edit, apply_edits, parse_edits
from evolve.errors import PatchError

REPO = Path(__file__).parent.parent
CORPUS = read_records(CORPUS_FILE)
PROGRAM = "import math\n\n# EVOLVE-BLOCK-START\nALPHA = 0.5\ndef score(x):\n    return ALPHA * x\n# EVOLVE-BLOCK-END\n\ndef frozen(y):\n    return y + 1\n"


def reason_of(parent: str, answer: str) -> PatchError:
    with pytest.raises(PatchError) as caught:
        child_from_answer(parent, answer)
    return caught.value


@pytest.mark.parametrize("record", CORPUS, ids=lambda r: r.id)
def test_every_corpus_answer_has_its_expected_outcome_and_child(record: AnswerRecord):
    outcome = try_answer(record)
    assert outcome.outcome == record.expect, outcome.detail
    if record.expect == APPLIED:
        assert outcome.child == record.expect_child  # never a wrong child
    else:
        assert outcome.child is None and outcome.detail


@pytest.mark.parametrize("record", [r for r in CORPUS if r.parent.endswith("\n") and "\r" not in r.parent], ids=lambda r: r.id)
def test_a_parent_without_final_newline_or_with_crlf_behaves_like_the_plain_one(record: AnswerRecord):
    plain = try_answer(record)
    bare = try_answer(AnswerRecord(parent=record.parent.rstrip("\n"), answer=record.answer))
    crlf = try_answer(AnswerRecord(parent=record.parent.replace("\n", "\r\n"), answer=record.answer))
    assert (bare.outcome, bare.child) == (plain.outcome, plain.child)
    assert crlf.outcome == plain.outcome
    assert crlf.child == (plain.child.replace("\n", "\r\n") if plain.child else None)


def test_rejection_messages_never_show_two_identical_texts():
    details = [try_answer(r).detail for r in CORPUS if r.expect != APPLIED]
    pairs = [m.groups() for d in details for m in [re.search(r"expected ('.*'), got ('.*')", d)] if m]
    assert pairs, "the corpus has expected/got messages"
    assert all(expected != got for expected, got in pairs)


def test_the_corpus_file_is_built_from_the_cases(tmp_path):
    rebuilt = tmp_path / "corpus.jsonl"
    write_records(rebuilt, all_cases())
    assert rebuilt.read_bytes() == CORPUS_FILE.read_bytes(), "run: python tests/answer_corpus.py"


def test_the_benchmark_prints_applied_and_rejected_by_reason():
    result = subprocess.run(
        [sys.executable, "benchmarks/answer_acceptance.py", "--by-format"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    applied = sum(r.expect == APPLIED for r in CORPUS)
    assert re.search(rf"^\| applied +\| {applied} ", result.stdout, re.M)
    assert re.search(r"^\| ambiguous_search +\| 3 ", result.stdout, re.M)
    assert f"matches the expected outcome: {len(CORPUS)}/{len(CORPUS)}" in result.stdout
    bad = subprocess.run([sys.executable, "benchmarks/answer_acceptance.py", "nowhere"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr == "error: no .jsonl answer records at nowhere\n"


def test_edits_apply_in_order_and_all_or_nothing():
    answer = (
        "<<<<<<< SEARCH\nALPHA = 0.5\n=======\nALPHA = 0.9\n>>>>>>> REPLACE\n"
        "<<<<<<< SEARCH\n    return ALPHA * x\n=======\n    y = ALPHA * x\n    return y * y\n>>>>>>> REPLACE\n"
    )
    assert parse_edits(answer) == (
        Edit("ALPHA = 0.5\n", "ALPHA = 0.9\n", 1),
        Edit("    return ALPHA * x\n", "    y = ALPHA * x\n    return y * y\n", 6),
    )
    assert child_from_answer(PROGRAM, answer) == PROGRAM.replace("ALPHA = 0.5", "ALPHA = 0.9").replace(
        "    return ALPHA * x\n", "    y = ALPHA * x\n    return y * y\n"
    )
    second_unmatched = answer.replace("    return ALPHA * x\n=", "    return BETA\n=")
    error = reason_of(PROGRAM, second_unmatched)
    assert error.reason == "unmatched_search" and "SEARCH block 2" in str(error)


@pytest.mark.parametrize(
    "answer, reason, message",
    [
        ("<<<<<<< SEARCH\nx = 1\n>>>>>>> REPLACE\n", "malformed_diff", "has no ======= divider"),
        ("<<<<<<< SEARCH\nx = 1\n=======\ny\n=======\nz\n>>>>>>> REPLACE\n", "malformed_diff", "no >>>>>>> REPLACE end"),
        ("<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n", "cut_off", "none of its edits is applied"),
        ("<<<<<<< SEARCH\n=======\nx = 2\n>>>>>>> REPLACE\n", "empty_search", "SEARCH block 1 is empty"),
        ("prose\n>>>>>>> REPLACE\n", "no_diff", "no <<<<<<< SEARCH"),
    ],
)
def test_diffs_without_a_single_reading_are_rejected(answer, reason, message):
    error = reason_of(PROGRAM, answer)
    assert error.reason == reason and message in str(error)


def test_a_reindented_search_shifts_its_replace_and_rejects_what_it_cannot_shift():
    code = "def f():\n    # EVOLVE-BLOCK-START\n    if x:\n        y = 1\n    # EVOLVE-BLOCK-END\n"
    lost = "<<<<<<< SEARCH\nif x:\n    y = 1\n=======\nif x:\n    y = 2\n\n    z = 3\n>>>>>>> REPLACE\n"
    assert child_from_answer(code, lost) == code.replace("        y = 1\n", "        y = 2\n\n        z = 3\n")
    extra = "<<<<<<< SEARCH\n        if x:\n            y = 1\n=======\n  y = 2\n>>>>>>> REPLACE\n"
    error = reason_of(code, extra)
    assert error.reason == "malformed_diff" and "REPLACE line 1 '··y·=·2⏎' is indented less" in str(error)
    uneven = "<<<<<<< SEARCH\nif x:\ny = 1\n=======\npass\n>>>>>>> REPLACE\n"
    error = reason_of(code, uneven)
    assert error.reason == "unmatched_search" and "indentation that does not shift uniformly" in str(error)


def test_an_unmatched_search_shows_the_first_differing_line_visibly():
    error = reason_of(PROGRAM, "<<<<<<< SEARCH\ndef score(x):\n    return ALPHA  * x\n=======\npass\n>>>>>>> REPLACE\n")
    assert "its line 2 differs from program line 6: expected '····return·ALPHA·*·x⏎', got '····return·ALPHA··*·x⏎'" in str(error)


def test_a_search_touching_frozen_code_is_rejected_with_the_line():
    error = reason_of(PROGRAM, "<<<<<<< SEARCH\n    return y + 1\n=======\n    return y + 5\n>>>>>>> REPLACE\n")
    assert error.reason == "outside_block" and "frozen line 10 changed" in str(error)


def test_a_rewrite_that_adds_an_import_names_the_frozen_line():
    error = reason_of(PROGRAM, "```python\nimport math\nimport os\n" + PROGRAM.split("\n", 1)[1] + "```\n")
    assert error.reason == "outside_block" and "a line was added before frozen line 2: 'import·os⏎'" in str(error)


def test_rewrites_may_leave_out_the_head_or_tail_whole_but_not_part_of_it():
    block = "# EVOLVE-BLOCK-START\nALPHA = 0.7\n# EVOLVE-BLOCK-END\n"
    body = "ALPHA = 0.5\ndef score(x):\n    return ALPHA * x\n"
    assert child_from_answer(PROGRAM, f"```python\n{block}```") == PROGRAM.replace(body, "ALPHA = 0.7\n")
    partial_tail = block + "\ndef frozen(y):\n```"
    error = reason_of(PROGRAM, "```python\n" + partial_tail)
    assert error.reason == "outside_block" and "frozen line 10 was removed" in str(error)


def test_fences_close_only_on_a_bare_fence_and_an_unclosed_one_is_marked():
    text = "```bash\nrun it\n```\nthen\n~~~python\nx = 1\n```python\n~~~\n```py\ny = 2\n\n"
    fences = find_fences(text)
    assert [(f.tag, f.body, f.line, f.closed) for f in fences] == [
        ("bash", "run it\n", 1, True),
        ("python", "x = 1\n```python\n", 5, True),
        ("py", "y = 2\n", 9, False),
    ]


def test_apply_edits_never_changes_its_input():
    lines = PROGRAM
    with pytest.raises(PatchError):
        apply_edits(lines, (Edit("ALPHA = 0.5\n", "ALPHA = 0.9\n"), Edit("missing\n", "x\n")))
    assert lines == PROGRAM
