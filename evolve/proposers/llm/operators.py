"""Mutation operators: which one a call uses, and the one-line summary of its answer."""

from __future__ import annotations

import random
import re

from evolve.proposers.base import ProposalRequest
from evolve.proposers.llm.specs import OperatorMix


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


_TAG = re.compile(r"^</?[A-Za-z_]+>$")  # section tags some prompts ask for: <NAME>, <DIFF>, ...


def summary_of(answer: str) -> str:
    """The answer's first prose line, as the candidate's one-line summary."""
    for line in answer.splitlines():
        text = line.strip()
        if text and not text.startswith(("<<<<<<<", "```", "=======", ">>>>>>>", "#")) and not _TAG.match(text):
            return text[:200]
    return ""
