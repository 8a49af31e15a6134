"""A courtesy lint on the editable regions: tell the LLM early that its code reaches too far.

It is NOT a security boundary and nothing relies on it. The candidate never shares a process
with the evaluator (sandboxes.job): whatever it imports or introspects, it only ever sees its own
process, and the host only believes plain data, validated on the trusted side. The lint exists
because an LLM that imports `os` or pokes at frames is almost always off track, and a one-line
rejection before any sandbox starts is a clearer lesson (and cheaper) than a crash inside it.
Proposed code may import modules from an allow-list and may not name the builtins or attributes
that reach interpreter internals. Frozen (seed-author) code is not checked. A problem turns it
off with `[guard] enabled = false`; the hostile tests run with it off.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from evolve.blocks import find_blocks
from evolve.errors import PatchError

SAFE_IMPORTS = frozenset(
    {
        "__future__", "abc", "array", "bisect", "cmath", "collections", "copy", "dataclasses", "decimal",
        "enum", "fractions", "functools", "heapq", "itertools", "math", "numpy", "operator", "random",
        "statistics", "typing",
    }
)  # fmt: skip
FORBIDDEN_NAMES = frozenset(
    {
        "__builtins__", "__import__", "__loader__", "__spec__", "breakpoint", "compile", "delattr", "eval",
        "exec", "exit", "getattr", "globals", "help", "input", "locals", "memoryview", "open", "quit",
        "setattr", "vars",
    }
)  # fmt: skip
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "_getframe", "ag_frame", "co_code", "cr_frame", "f_back", "f_builtins", "f_code", "f_globals",
        "f_locals", "gi_code", "gi_frame", "tb_frame", "tb_next",
    }
)  # fmt: skip
ALLOWED_DUNDERS = frozenset({"__init__", "__name__"})


@dataclass(frozen=True)
class GuardPolicy:
    enabled: bool = True
    allowed_imports: frozenset[str] = field(default=SAFE_IMPORTS)

    def with_imports(self, extra: tuple[str, ...]) -> "GuardPolicy":
        return GuardPolicy(self.enabled, self.allowed_imports | frozenset(extra))


def check_code(code: str, policy: GuardPolicy) -> None:
    """Raise PatchError("forbidden", ...) for the first forbidden construct in an editable region."""
    if not policy.enabled:
        return
    editable = {line for b in find_blocks(code) for line in range(b.start_line, b.end_line + 1)}
    tree = ast.parse(code)
    modules = _imported_names(tree)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if line is None or line not in editable:
            continue
        problem = _problem(node, policy) or _shared_state_write(node, modules)
        if problem:
            raise PatchError("forbidden", f"line {line}: {problem}")


def _problem(node: ast.AST, policy: GuardPolicy) -> str | None:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        names = [("." * node.level) + (node.module or "")]
    else:
        names = []
    for name in names:
        if name.split(".")[0] not in policy.allowed_imports:
            return f"import of {name!r} is not allowed (allowed: {', '.join(sorted(policy.allowed_imports))})"
    if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
        return f"use of {node.id!r} is not allowed"
    if isinstance(node, ast.Attribute):
        attr = node.attr
        if attr in FORBIDDEN_ATTRIBUTES or (attr.startswith("__") and attr not in ALLOWED_DUNDERS):
            return f"attribute {attr!r} reaches interpreter internals and is not allowed"
    return None


def _imported_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _shared_state_write(node: ast.AST, modules: set[str]) -> str | None:
    """Attribute writes on a module or on `type(...)` outlive the scenario: a side channel."""
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            root = target
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if root is not target and (isinstance(root, ast.Call) or (isinstance(root, ast.Name) and root.id in modules)):
                return "writing attributes of a module or of type(...) is not allowed (state would outlive the scenario)"
    return None
