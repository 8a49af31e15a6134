"""How many LLM answers become children: applied / rejected by reason, through the real path.

    python benchmarks/answer_acceptance.py [PATH ...] [--by-format] [--show N]

PATH is a .jsonl file of answer records or a folder of them (default: the test corpus,
tests/fixtures/answers). Export the answers of one of your runs with
`evolve export RUN --answers` and point this at the file. Records that carry an expected
outcome (the corpus) are also checked against it: a wrong child counts as a mismatch.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

from evolve.errors import UserError
from evolve.edits.corpus import APPLIED, AnswerRecord, Outcome, read_records, try_answer

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "answers"


def rows_by_outcome(results: list[tuple[AnswerRecord, Outcome]]) -> list[tuple[str, int, str]]:
    counts = Counter(o.outcome for _, o in results)
    total = max(1, len(results))
    ordered = [APPLIED] + sorted((k for k in counts if k != APPLIED), key=lambda k: (-counts[k], k))
    return [(k, counts[k], f"{100 * counts[k] / total:.1f}%") for k in ordered]


def rows_by_format(results: list[tuple[AnswerRecord, Outcome]]) -> list[tuple[str, int, int]]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for record, outcome in results:
        groups[record.format or "-"].append(outcome)
    return [(fmt, len(out), sum(o.outcome == APPLIED for o in out)) for fmt, out in sorted(groups.items())]


def mismatches(results: list[tuple[AnswerRecord, Outcome]]) -> list[str]:
    """Records whose outcome differs from the expected one, or applied with a different child."""
    wrong = []
    for record, outcome in results:
        if record.expect is None:
            continue
        if outcome.outcome != record.expect:
            wrong.append(f"{record.id}: expected {record.expect}, got {outcome.outcome} {outcome.detail[:120]}")
        elif record.expect_child is not None and outcome.child != record.expect_child:
            wrong.append(f"{record.id}: applied, but not to the expected child")
    return wrong


def print_table(headers: tuple[str, ...], rows: list[tuple]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    for line in (headers, tuple("-" * w for w in widths), *rows):
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(line, widths)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[CORPUS])
    parser.add_argument("--by-format", action="store_true", help="also tabulate by the records' format label")
    parser.add_argument("--show", type=int, default=0, metavar="N", help="print the first N rejection messages")
    args = parser.parse_args()
    try:
        records = [r for path in args.paths for r in read_records(path)]
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    results = [(r, try_answer(r)) for r in records]
    print(f"{len(records)} answers from {', '.join(str(p) for p in args.paths)}\n")
    print_table(("outcome", "answers", "share"), rows_by_outcome(results))
    if args.by_format:
        print()
        print_table(("format", "answers", "applied"), rows_by_format(results))
    expected = [r for r, _ in results if r.expect is not None]
    if expected:
        wrong = mismatches(results)
        print(f"\nmatches the expected outcome: {len(expected) - len(wrong)}/{len(expected)}")
        for line in wrong:
            print(f"  {line}")
    rejected = [(r, o) for r, o in results if o.outcome != APPLIED][: args.show]
    for record, outcome in rejected:
        print(f"\n{record.id or record.iteration}: {outcome.outcome}: {outcome.detail}")


if __name__ == "__main__":
    main()
