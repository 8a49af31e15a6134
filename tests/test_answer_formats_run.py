"""A run against the fake LLM server whose model answers in every format real models use: each
answer becomes an applied child, even from a seed file without a final newline."""

from __future__ import annotations

import itertools
import json
import re
import sqlite3

from fakellm import Call, FakeLLM, Reply, parent_code


def sr(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def up_to_end(program: str) -> str:
    return program[: program.index("# EVOLVE-BLOCK-END")] + "# EVOLVE-BLOCK-END\n"


FORMATS = {
    "plain": lambda old, new, child: "Move a.\n" + sr(old, new),
    "fenced": lambda old, new, child: "```diff\n" + sr(old, new) + "```\n",
    "tagged": lambda old, new, child: "<NAME>\nmove_a\n</NAME>\n<DESCRIPTION>\nMove a.\n</DESCRIPTION>\n<DIFF>\n" + sr(old, new) + "</DIFF>\n",
    "drifted": lambda old, new, child: "Move a.\n" + sr(old.lstrip(), new.lstrip()),
    "stray markers": lambda old, new, child: "=======\n" + sr(old, new) + ">>>>>>> REPLACE\n",
    "doubled divider": lambda old, new, child: f"<<<<<<< SEARCH\n{old}=======\n{new}=======\n>>>>>>> REPLACE\n",
    "fenced sections": lambda old, new, child: f"<<<<<<< SEARCH\n```python\n{old}```\n=======\n```python\n{new}```\n>>>>>>> REPLACE\n",
    "crlf": lambda old, new, child: ("Move a.\n" + sr(old, new)).replace("\n", "\r\n"),
    "rewrite to END": lambda old, new, child: "```python\n" + up_to_end(child) + "```\n",
    "python line": lambda old, new, child: "```python\n# python\n" + child + "```\n",
    "block only": lambda old, new, child: "```python\n" + child[child.index("    # EVOLVE-BLOCK-START") :].split("    return")[0] + "```\n",
}


class Answers:
    """Answer call i in the i-th format, moving `a` to a new value each time."""

    def __init__(self):
        self.formats = itertools.cycle(FORMATS.items())
        self.values = itertools.count(11)
        self.used: list[tuple[str, str]] = []

    def __call__(self, call: Call) -> Reply:
        parent = parent_code(call)
        old = re.search(r"^    a = .+\n", parent, re.M).group(0)
        new = f"    a = {next(self.values) / 10}\n"
        name, make = next(self.formats)
        self.used.append((name, new.strip()))
        return Reply(make(old, new, parent.replace(old, new)))


def test_answers_in_every_format_become_applied_children(cli, toy_problem, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    seed = toy_problem / "seed.py"
    seed.write_text(seed.read_text().rstrip("\n"))  # the old bug: every child failed with outside_block
    answers = Answers()
    with FakeLLM(answers) as server:
        code, out, err = cli(
            "run", str(toy_problem), "--iterations", str(len(FORMATS)), "--workers", "1", "--order", "iteration", "--model", "openai/gpt-5-mini",
            "--base-url", server.openai_url, "--name", "formats",
        )
    assert code == 0, err
    db = sqlite3.connect(tmp_path / "runs" / "formats" / "evolve.db")
    rows = db.execute("SELECT iteration, status, failure_reason, code FROM candidates WHERE iteration > 0 ORDER BY iteration").fetchall()
    assert [name for name, _ in answers.used] == list(FORMATS)
    for (iteration, status, reason, child), (name, assignment) in zip(rows, answers.used):
        assert status == "valid" and reason is None, (name, reason)
        assert f"\n    {assignment}\n" in child and child.endswith("    return a, b, c\n"), name
    code, out, _ = cli("status", "formats", "--json")
    assert json.loads(out)["candidates_by_status"] == {"valid": len(FORMATS) + 1}
