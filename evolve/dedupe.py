"""Hashes for spotting duplicate candidates before paying to evaluate them.

`code_hash` identifies exact text; `normalized_hash` identifies near-duplicates: programs that
differ only in comments, docstrings, formatting, or float constants equal to 4 significant digits.
"""

from __future__ import annotations

import ast
import hashlib
import math
import warnings


def code_hash(code: str) -> str:
    """sha256 hex digest of the exact program text."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


class _Normalizer(ast.NodeTransformer):
    """Rounds float constants and blanks docstrings, which do not change behaviour."""

    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        if type(node.value) is float and math.isfinite(node.value):
            return ast.Constant(value=float(f"{node.value:.4g}"))
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body[0] = ast.Expr(value=ast.Constant(value=""))
        return super().generic_visit(node)


def normalized_hash(code: str) -> str:
    """sha256 of the normalized AST dump; unparsable code falls back to collapsed whitespace."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return hashlib.sha256(("text:" + " ".join(code.split())).encode("utf-8")).hexdigest()
    tree = _Normalizer().visit(tree)
    dumped = ast.dump(tree, annotate_fields=True, include_attributes=False)
    return hashlib.sha256(("ast:" + dumped).encode("utf-8")).hexdigest()
