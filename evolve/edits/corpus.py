"""Answers with the parents they were written for, as JSON lines: the acceptance benchmark's input.

The same records come from `evolve export RUN --answers` (every stored answer of a run) and from
hand-written corpora (which add the expected outcome), so anyone can measure how many answers of
their own runs become children, and why the others do not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from evolve.errors import PatchError, UserError
from evolve.edits.answer import checked_child, child_from_answer

APPLIED = "applied"


@dataclass(frozen=True)
class AnswerRecord:
    """One answer and its parent. `expect` ("applied" or a rejection reason) only in corpora."""

    parent: str
    answer: str
    operator: str = "diff"
    id: str = ""
    format: str = ""  # what kind of answer this is (corpus label), for grouping in the table
    model: str = ""
    prompt_variant: str = ""
    run: str = ""
    iteration: int | None = None
    stored_outcome: str = ""  # what the run that made it concluded ("applied" or the reason)
    expect: str | None = None
    expect_child: str | None = None  # corpora: the exact child an applied answer must give

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, "") or k in ("parent", "answer")}

    @classmethod
    def from_json(cls, data: dict) -> "AnswerRecord":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Outcome:
    """What the answer-to-child path made of one answer."""

    outcome: str  # "applied" or the rejection reason
    detail: str = ""
    child: str | None = None


def try_answer(record: AnswerRecord) -> Outcome:
    """Run one answer through the same steps a run takes before evaluating a child."""
    try:
        child = checked_child(record.parent, child_from_answer(record.parent, record.answer))
    except PatchError as exc:
        return Outcome(exc.reason, str(exc))
    return Outcome(APPLIED, "", child)


def read_records(path: Path) -> list[AnswerRecord]:
    """Every record in a .jsonl file, or in all .jsonl files under a folder (sorted by name)."""
    files = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise UserError(f"no .jsonl answer records at {path}")
    records = []
    for file in files:
        with open(file, encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    records.append(AnswerRecord.from_json(json.loads(line)))
                except (json.JSONDecodeError, TypeError) as exc:
                    raise UserError(f"{file}:{lineno}: not an answer record ({exc})") from None
    return records


def write_records(path: Path, records: Iterable[AnswerRecord]) -> int:
    """Write records as JSON lines; returns how many."""
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
            count += 1
    return count
