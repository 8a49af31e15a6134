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

from evolve.html_report.values import CandidateDetail
from evolve.store.records import EvaluationRecord, ProposalRecord

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
    rows = [_row(c, k // block_size) for k, c in enumerate(candidates)]
    blocks, raw = [], 0
    for start in range(0, len(candidates), block_size):
        text = safe_json([_detail(c) for c in candidates[start : start + block_size]])
        raw += len(text)
        blocks.append(_compress(text))
    index_text = safe_json({"columns": ROW_COLUMNS, "rows": rows})
    return PackedCandidates(_compress(index_text), tuple(blocks), raw + len(index_text))


def _compress(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)).decode("ascii")


def _row(d: CandidateDetail, block: int) -> list:
    c = d.candidate
    return [c.id, c.iteration, c.island, c.generation, c.parent_id, c.status, c.failure_reason, number(c.score),
            number(c.test_score), d.model, d.call.operator if d.call else "", c.summary[:300], block]


def _detail(c: CandidateDetail) -> dict:
    r = c.candidate
    return {
        "id": r.id,
        "summary": r.summary,
        "code": r.code,
        "diff": r.diff,
        "failure_detail": r.failure_detail,
        "inspirations": list(r.inspiration_ids),
        "children": list(c.child_ids),
        "stages": [_stage(e) for e in r.evaluations],
        "call": _call(c.call) if c.call else None,
    }


def _stage(e: EvaluationRecord) -> dict:
    return {"stage": e.stage, "valid": e.valid, "reason": e.reason, "error": e.error, "seconds": number(e.seconds),
            "metrics": [[k, number(float(v))] for k, v in sorted(e.metrics.items())], "feedback": e.feedback}


def _call(p: ProposalRecord) -> dict:
    return {"proposer": p.proposer, "model": p.model, "operator": p.operator, "tokens_in": p.tokens_in,
            "tokens_out": p.tokens_out, "dollars": number(p.cost_usd), "latency": number(p.latency_s),
            "attempts": len(p.attempts), "priced": p.priced, "error": p.error, "prompt": p.prompt, "response": p.response}
