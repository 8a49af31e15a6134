"""Prompts from Jinja2 templates: the shipped ones in prompts/, overridable per problem.

A problem folder may hold `prompts/<name>.j2` for any of system, diff, rewrite, crossover, repair,
meta_system and meta (the prompt writer of prompt evolution), or the shared `_parts.j2`; those win
over the shipped templates of the same name. Templates may offer alternative phrasings with
`pick("...", "...")`: the first unless prompt evolution varies the wording.
"""

from __future__ import annotations

import random
from pathlib import Path

import jinja2

from evolve.blocks import split_program
from evolve.errors import PatchError, ProblemError
from evolve.proposers.base import ProgramView, ProposalRequest
from evolve.proposers.llm.wire import ChatRequest
from evolve.resources import shipped

SHIPPED_PROMPTS = shipped("prompts")
OPERATORS = ("diff", "rewrite", "crossover", "repair")


class PromptBuilder:
    def __init__(self, problem_name: str, description: str, metric: str, maximize: bool, problem_root: Path | None = None):
        folders = [str(problem_root / "prompts")] if problem_root and (problem_root / "prompts").is_dir() else []
        folders.append(str(SHIPPED_PROMPTS))
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folders),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
        self._common = {"problem_name": problem_name, "description": description, "metric": metric, "maximize": maximize}
        for name in ("system", *OPERATORS, "meta_system", "meta"):  # fail at startup, not at the first call
            self._template(name)

    def _template(self, name: str) -> jinja2.Template:
        try:
            return self._env.get_template(f"{name}.j2")
        except jinja2.TemplateNotFound:
            raise ProblemError(f"prompt template {name}.j2 not found in {self._env.loader.searchpath}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise ProblemError(f"prompt template {exc.filename}:{exc.lineno}: {exc.message}") from None

    def build(self, operator: str, request: ProposalRequest, guidance: str = "", wording: random.Random | None = None) -> ChatRequest:
        """The call for an operator. `guidance`: a prompt variant's text, added to the system prompt;
        `wording`: draws among the templates' alternative phrasings (None: always the first)."""
        values = dict(
            self._common,
            context=request.context,
            parent=request.parent,
            inspirations=request.inspirations,
            second=request.inspirations[0] if request.inspirations else None,
            failed=request.failed,
            regions=regions(request.parent),
            guidance=guidance,
            pick=_picker(wording),
        )
        return ChatRequest(system=self._render("system", values), user=self._render(operator, values))

    def build_writer(self, request: ProposalRequest, guidance: str, best: tuple, worst: tuple) -> ChatRequest:
        """The call that writes new guidance (prompt evolution), shown the current system prompt
        with `guidance` and the best and worst recent children (Feedback values)."""
        values = dict(self._common, context=request.context, guidance=guidance, pick=_picker(None), best=best, worst=worst)
        values["system"] = self._render("system", values)
        return ChatRequest(system=self._render("meta_system", values), user=self._render("meta", values))

    def _render(self, name: str, values: dict) -> str:
        try:
            return self._template(name).render(values).strip() + "\n"
        except jinja2.TemplateError as exc:
            raise ProblemError(f"prompt template {name}.j2 failed to render: {exc}") from None


def _picker(wording: random.Random | None):
    """The templates' `pick(a, b, ...)`: one phrasing, drawn by `wording`, or always the first."""

    def pick(*options: str) -> str:
        return options[0] if wording is None else wording.choice(options)

    return pick


def regions(program: ProgramView) -> list[str]:
    try:
        return [s.text for s in split_program(program.code) if s.editable]
    except PatchError:
        return []
