"""Prompt evolution: a small population of system-prompt variants, picked by the same bandit as
models, and grown by an LLM that writes new guidance from the run's best and worst recent children.

Everything here is a pure function of the feedback the controller has committed (commit positions
up to `seen_upto`), as for the model bandit: a variant written by the iteration committed at
position k exists for plans made after k,
so a run with a fixed seed (or a replayed cassette) makes the same choices, and resume rebuilds
the same population from the stored lineage.
"""

from __future__ import annotations

import bisect
import random
from collections import deque
from dataclasses import dataclass

from evolve.edits.fences import find_fences
from evolve.proposers.base import BASE_VARIANT, Feedback, PromptVariant
from evolve.proposers.llm.chooser import MIN_PULLS, Arm, Bandit

BASE = PromptVariant(BASE_VARIANT, "")  # the shipped system prompt, no written guidance
WINDOW = 16  # recent children the writer learns from
MIN_EXAMPLES = 4  # a new variant needs at least this many recent children to learn from
SHOWN = 3  # best and worst children shown to the writer
MAX_GUIDANCE = 4000  # characters
KEPT = 4096  # recent feedback kept (plans see snapshots at most a few hundred commits old)


@dataclass(frozen=True)
class Examples:
    """What the writer is shown: the best and the worst of the recent children."""

    best: tuple[Feedback, ...]
    worst: tuple[Feedback, ...]


class NoGuidance(ValueError):
    """The writer's answer holds no usable guidance (the reason is the message)."""


class PromptPopulation:
    def __init__(self, size: int, interval: int):
        self.size = size
        self.interval = interval
        self._bandit = Bandit(cost_weight=0.0, arm_of=lambda f: f.prompt_variant)
        self._written: dict[str, PromptVariant] = {}
        self._recent: deque[Feedback] = deque(maxlen=KEPT)  # in commit order

    def observe(self, feedback: Feedback) -> None:
        self._bandit.observe(feedback)
        self._recent.append(feedback)
        if feedback.new_variant is not None:
            self._written[feedback.new_variant.name] = feedback.new_variant

    def variants(self, seen_upto: int) -> list[PromptVariant]:
        """The shipped prompt and every variant whose iteration was committed at a position up to `seen_upto`."""
        return [BASE, *sorted((v for v in self._written.values() if v.born <= seen_upto), key=lambda v: v.born)]

    def in_play(self, seen_upto: int) -> list[PromptVariant]:
        """The shipped prompt plus the best `size - 1` written variants (untried ones first)."""
        written = self.variants(seen_upto)[1:]
        stats = self._bandit.stats([v.name for v in written], seen_upto)
        ranked = sorted(written, key=lambda v: (stats[v.name].pulls >= MIN_PULLS, -stats[v.name].mean, -v.born))
        return [BASE, *ranked[: self.size - 1]]

    def choose(self, rng: random.Random, seen_upto: int) -> PromptVariant:
        play = self.in_play(seen_upto)
        arm = self._bandit.choose([Arm(v.name) for v in play], rng, seen_upto)
        return next(v for v in play if v.name == arm.name)

    def best(self, seen_upto: int) -> PromptVariant:
        """The variant in play with the highest mean reward once tried enough (else the shipped one)."""
        play = self.in_play(seen_upto)
        stats = self._bandit.stats([v.name for v in play], seen_upto)
        tried = [v for v in play if stats[v.name].pulls >= MIN_PULLS]
        return max(tried, key=lambda v: (stats[v.name].mean, v.born), default=BASE)

    def examples(self, seen_upto: int) -> Examples:
        recent = self._seen(seen_upto)[-WINDOW:]
        improved = sorted((f for f in recent if f.improvement and f.improvement > 0), key=lambda f: -f.improvement)
        failed = [f for f in reversed(recent) if f.status != "valid"]
        regressed = sorted((f for f in recent if f.improvement is not None and f.improvement <= 0), key=lambda f: f.improvement)
        return Examples(tuple(improved[:SHOWN]), tuple((failed + regressed)[:SHOWN]))

    def due(self, iteration: int, seen_upto: int) -> bool:
        """Whether this iteration writes a new variant first: every `interval` iterations, once
        there are enough recent children to learn from."""
        recent = sum(1 for f in self._seen(seen_upto)[-WINDOW:] if f.position > 0)
        return iteration % self.interval == 0 and recent >= MIN_EXAMPLES

    def _seen(self, seen_upto: int) -> list[Feedback]:
        """The kept feedback up to commit position `seen_upto`, in commit order."""
        kept = list(self._recent)
        return kept[: bisect.bisect_right([f.position for f in kept], seen_upto)]


def guidance_from(answer: str, known: list[PromptVariant]) -> str:
    """The new guidance in the writer's answer: its largest fenced block, unlike any known one."""
    fences = [f.body.strip() for f in find_fences(answer.replace("\r\n", "\n")) if f.closed and f.body.strip()]
    if not fences:
        raise NoGuidance("the answer has no ``` fenced block of guidance")
    text = max(fences, key=len)
    if len(text) > MAX_GUIDANCE:
        raise NoGuidance(f"the guidance has {len(text)} characters (at most {MAX_GUIDANCE})")
    same = next((v for v in known if v.text.strip() == text), None)
    if same is not None:
        raise NoGuidance(f"the guidance is the same as {same.name}'s")
    return text
