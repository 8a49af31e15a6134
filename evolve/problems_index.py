"""Where shipped problems live, and resolving a PROBLEM argument (a folder or a shipped name)."""

from __future__ import annotations

from pathlib import Path

from evolve.errors import ProblemError
from evolve.problem import PROBLEM_FILE, load_problem
from evolve.resources import shipped


def shipped_root() -> Path:
    """The shipped problems/ folder (the wheel's package data, or the checkout's top folder)."""
    return shipped("problems")


def find_problem(arg: str) -> Path:
    path = Path(arg).expanduser()
    if path.exists():
        return path
    shipped = shipped_root() / arg
    if (shipped / PROBLEM_FILE).is_file():
        return shipped
    raise ProblemError(f"problem {arg!r} not found: give a folder with a {PROBLEM_FILE} or one of: {', '.join(_names()) or '(none shipped)'}")


def _names() -> list[str]:
    root = shipped_root()
    return sorted(p.parent.name for p in root.glob(f"*/{PROBLEM_FILE}")) if root.is_dir() else []


def list_problems() -> list[dict]:
    rows = []
    for name in _names():
        problem = load_problem(shipped_root() / name)
        rows.append(
            {
                "name": problem.name,
                "path": str(problem.root),
                "objective": f"{problem.objective.direction} {problem.objective.metric}",
                "baselines": sorted(problem.baselines),
                "description": problem.description,
            }
        )
    return rows
