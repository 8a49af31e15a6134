"""Mutation operators: which one a call uses, and how its answer becomes child code."""

from __future__ import annotations

import random

from evolve.errors import PatchError
from evolve.patching import apply_full_rewrite, apply_search_replace, parse_search_replace
from evolve.proposers.base import ProposalRequest
from evolve.proposers.llm.specs import OperatorMix

DIFF_STYLE = frozenset({"diff", "repair"})
SEARCH_MARKER = "<<<<<<< SEARCH"


def available(mix: OperatorMix, request: ProposalRequest) -> dict[str, float]:
    weights = {"diff": mix.diff, "rewrite": mix.rewrite}
    if request.inspirations:
        weights["crossover"] = mix.crossover
    if request.failed is not None:
        weights["repair"] = mix.repair
    return {k: v for k, v in weights.items() if v > 0}


def choose_operator(mix: OperatorMix, request: ProposalRequest, rng: random.Random) -> str:
    weights = available(mix, request)
    names = sorted(weights)
    return rng.choices(names, weights=[weights[n] for n in names], k=1)[0]


def child_from_answer(operator: str, parent: str, answer: str) -> str:
    """Apply the answer to the parent; PatchError says why it is unusable.

    Diff-style operators accept a full program too, and rewrite-style ones SEARCH/REPLACE edits:
    models mix formats up, and either is checked the same way (EVOLVE-BLOCKs only).
    """
    if not answer.strip():
        raise PatchError("empty_response", "the model returned no text")
    if SEARCH_MARKER in answer:
        return apply_search_replace(parent, parse_search_replace(answer))
    try:
        return apply_full_rewrite(parent, answer)
    except PatchError as exc:
        if exc.reason == "no_code" and operator in DIFF_STYLE:
            raise PatchError("no_code", "answer has neither SEARCH/REPLACE edits nor a ```python block") from None
        raise


def summary_of(answer: str) -> str:
    """The answer's first prose line, as the candidate's one-line summary."""
    for line in answer.splitlines():
        text = line.strip()
        if text and not text.startswith(("<<<<<<<", "```", "=======", ">>>>>>>", "#")):
            return text[:200]
    return ""
