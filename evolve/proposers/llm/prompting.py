"""Prompts from Jinja2 templates: the shipped ones in prompts/, overridable per problem.

A problem folder may hold `prompts/<name>.j2` for any of system, diff, rewrite, crossover, repair
(or the shared `_parts.j2`); those win over the shipped templates of the same name.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from evolve.blocks import split_program
from evolve.errors import PatchError, ProblemError
from evolve.proposers.base import ProgramView, ProposalRequest
from evolve.proposers.llm.wire import ChatRequest

SHIPPED_PROMPTS = Path(__file__).resolve().parents[3] / "prompts"
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
        for name in ("system", *OPERATORS):  # fail at startup, not at the first call
            self._template(name)

    def _template(self, name: str) -> jinja2.Template:
        try:
            return self._env.get_template(f"{name}.j2")
        except jinja2.TemplateNotFound:
            raise ProblemError(f"prompt template {name}.j2 not found in {self._env.loader.searchpath}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise ProblemError(f"prompt template {exc.filename}:{exc.lineno}: {exc.message}") from None

    def build(self, operator: str, request: ProposalRequest) -> ChatRequest:
        values = dict(
            self._common,
            context=request.context,
            parent=request.parent,
            inspirations=request.inspirations,
            second=request.inspirations[0] if request.inspirations else None,
            failed=request.failed,
            regions=regions(request.parent),
        )
        try:
            system = self._template("system").render(values)
            user = self._template(operator).render(values)
        except jinja2.TemplateError as exc:
            raise ProblemError(f"prompt template {operator}.j2 failed to render: {exc}") from None
        return ChatRequest(system=system.strip() + "\n", user=user.strip() + "\n")


def regions(program: ProgramView) -> list[str]:
    try:
        return [s.text for s in split_program(program.code) if s.editable]
    except PatchError:
        return []
