"""Candidate data for the page: JSON made safe to sit inside <script>, packed in gzip blocks.

Safety: `safe_json` escapes `<`, `>`, `&` and the two JavaScript line separators, so no stored
text can close the script element it sits in; the page reads it with JSON.parse and shows it with
textContent, never as HTML. Size: code, prompts and answers repeat from one candidate to the next,
so each block of consecutive candidates is gzip-compressed (the browser's DecompressionStream opens
a block only when one of its candidates is shown) and base64-encoded.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from evolve.html_report.values import CallView, CandidateDetail, CandidateRow, StageView

BLOCK_SIZE = 200
ROW_COLUMNS = ("id", "iteration", "island", "generation", "parent", "status", "reason", "score", "test", "model",
               "operator", "summary", "block")
_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


@dataclass(frozen=True)
class PackedCandidates:
    """`index` is the table of every candidate (gzip+base64 JSON); `blocks` their full details."""

    index: str
    blocks: tuple[str, ...]
    raw_bytes: int  # JSON size before compression, for the build summary


def safe_json(value: object) -> str:
    """JSON text that can be placed verbatim inside a <script> element."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    for char, escape in _ESCAPES.items():
        text = text.replace(char, escape)
    return text


def number(value: float | None) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    return value if value is None or math.isfinite(value) else None


def pack(candidates: Sequence[CandidateDetail], block_size: int = BLOCK_SIZE) -> PackedCandidates:
    rows = [_row(c.row, k // block_size) for k, c in enumerate(candidates)]
    blocks, raw = [], 0
    for start in range(0, len(candidates), block_size):
        text = safe_json([_detail(c) for c in candidates[start : start + block_size]])
        raw += len(text)
        blocks.append(_compress(text))
    index_text = safe_json({"columns": ROW_COLUMNS, "rows": rows})
    return PackedCandidates(_compress(index_text), tuple(blocks), raw + len(index_text))


def _compress(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)).decode("ascii")


def _row(r: CandidateRow, block: int) -> list:
    return [r.candidate_id, r.iteration, r.island, r.generation, r.parent_id, r.status, r.reason, number(r.score),
            number(r.test_score), r.model, r.operator, r.summary[:300], block]


def _detail(c: CandidateDetail) -> dict:
    return {
        "id": c.row.candidate_id,
        "summary": c.row.summary,
        "code": c.code,
        "diff": c.diff,
        "failure_detail": c.failure_detail,
        "inspirations": list(c.inspiration_ids),
        "children": list(c.child_ids),
        "stages": [_stage(s) for s in c.stages],
        "call": _call(c.call) if c.call else None,
    }


def _stage(s: StageView) -> dict:
    return {"stage": s.stage, "valid": s.valid, "reason": s.reason, "error": s.error, "seconds": number(s.seconds),
            "metrics": [[k, number(v)] for k, v in s.metrics], "feedback": s.feedback}


def _call(c: CallView) -> dict:
    return {"proposer": c.proposer, "model": c.model, "operator": c.operator, "tokens_in": c.tokens_in,
            "tokens_out": c.tokens_out, "dollars": number(c.dollars), "latency": number(c.latency_seconds),
            "attempts": c.attempts, "priced": c.priced, "error": c.error, "prompt": c.prompt, "response": c.response}
