"""A no-LLM proposer: small random AST-guided edits inside EVOLVE-BLOCKs.

It gives a real (if myopic) search when no model is available and a cheap baseline otherwise.
Sites are found through `ast` positions and changed as minimal text edits at those spans, so
comments and formatting survive and the stored diff against the parent stays tiny. All randomness
comes from `random.Random(request.seed)`, so a request always yields the same child.
"""

from __future__ import annotations

import ast
import bisect
import math
import random
import re
import time
import warnings
from dataclasses import dataclass
from typing import ClassVar, Sequence

from evolve.blocks import Block, check_edit, find_blocks, split_lines
from evolve.errors import PatchError
from evolve.patching import check_syntax
from evolve.proposers.base import Feedback, ProgramView, Proposal, ProposalRequest

MODEL = "ast-mutator"
_COMPARE = {ast.Lt: r"<", ast.LtE: r"<=", ast.Gt: r">", ast.GtE: r">="}
_ARITH = {ast.Add: r"\+", ast.Sub: r"-", ast.Mult: r"\*", ast.Div: r"/"}
_SWAP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "+": "-", "-": "+", "*": "/", "/": "*",
         "+=": "-=", "-=": "+=", "*=": "/=", "/=": "*=", "and": "or", "or": "and"}
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
_COMMENT_RE = re.compile(r"#[^\r\n]*")


@dataclass(frozen=True)
class Site:
    """A place that can be mutated: the text at code[start:end] and how to change it."""

    kind: str  # "number", "compare", "arith", "boolop"
    start: int
    end: int
    text: str
    line: int
    weight: float
    value: int | float | None = None
    label: str = ""
    key: str = ""  # structural position (AST path + label), for crossover


@dataclass(frozen=True)
class Mutation:
    """One applied change; `kind` is "float", "int", "crossover", "compare", "arith" or "boolop"."""

    kind: str
    line: int
    start: int
    end: int
    before: str
    after: str
    label: str = ""
    source: int | None = None  # donor candidate id for crossover

    def describe(self) -> str:
        label = f"{self.label} " if self.label else ""
        donor = f" (from #{self.source})" if self.source is not None else ""
        return f"line {self.line}: {label}{self.before} -> {self.after}{donor}"


class _Finder:
    """Collects mutation sites of one program, converting AST byte columns to text offsets."""

    def __init__(self, code: str, blocks: tuple[Block, ...]):
        self.code, self.blocks, self.sites = code, blocks, []
        self.lines = split_lines(code)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1] if lineno <= len(self.lines) else ""
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", "ignore"))

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def editable(self, node: ast.AST) -> bool:
        return any(b.contains(node.lineno, node.end_lineno) for b in self.blocks)

    def visit(self, node: ast.AST, path: str, parent: ast.AST | None) -> None:
        if isinstance(node, ast.JoinedStr):
            return  # numbers inside f-strings are formatting, not tunables
        if isinstance(node, (ast.expr, ast.stmt)) and self.editable(node):
            if self.number(node, path, parent):
                return
            self.operators(node)
        for field, value in ast.iter_fields(node):
            children = value if isinstance(value, list) else [value]
            for i, child in enumerate(children):
                if isinstance(child, ast.AST):
                    where = f"{field}[{i}]" if isinstance(value, list) else field
                    self.visit(child, f"{path}.{where}:{type(child).__name__}", node)

    def number(self, node: ast.AST, path: str, parent: ast.AST | None) -> bool:
        """Add a numeric-constant site; True if `node` was one (so its children are skipped)."""
        const, sign = node, 1
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            const, sign = node.operand, -1
        if not isinstance(const, ast.Constant) or type(const.value) not in (int, float):
            return False
        value = sign * const.value
        if isinstance(value, float) and not math.isfinite(value):
            return False
        label = _label(parent)
        if type(value) is int and value in (0, 1, 2) and label.isupper():
            return True  # enum-style definition such as SPOT = 1
        if type(value) is float:
            weight = 1.0 if value else 0.2
        else:
            weight = 0.5 if abs(value) >= 2 else 0.15
        start = self.offset(node.lineno, node.col_offset)
        end = self.offset(node.end_lineno, node.end_col_offset)
        self.sites.append(Site("number", start, end, self.code[start:end], node.lineno, weight,
                               value, label, f"{path}|{label}"))
        return True

    def operators(self, node: ast.AST) -> None:
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for i, op in enumerate(node.ops):
                if type(op) in _COMPARE:
                    self.between(operands[i], operands[i + 1], _COMPARE[type(op)], "compare", 0.5)
        elif isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            if not (_is_text(node.left) or _is_text(node.right)):
                weight = 0.4 if isinstance(node.op, (ast.Add, ast.Sub)) else 0.15
                self.between(node.left, node.right, _ARITH[type(node.op)], "arith", weight)
        elif isinstance(node, ast.AugAssign) and type(node.op) in _ARITH:
            if not _is_text(node.value):
                self.between(node.target, node.value, _ARITH[type(node.op)] + "=", "arith", 0.2)
        elif isinstance(node, ast.BoolOp):
            word = r"\band\b" if isinstance(node.op, ast.And) else r"\bor\b"
            for left, right in zip(node.values, node.values[1:]):
                self.between(left, right, word, "boolop", 0.15)

    def between(self, left: ast.AST, right: ast.AST, pattern: str, kind: str, weight: float) -> None:
        """Add a site for the operator token between two operands, if it is unambiguous."""
        a = self.offset(left.end_lineno, left.end_col_offset)
        b = self.offset(right.lineno, right.col_offset)
        gap = _COMMENT_RE.sub(lambda m: " " * len(m.group()), self.code[a:b])
        found = list(re.finditer(pattern if kind != "compare" else r"<=|>=|<|>", gap))
        if len(found) != 1 or not re.fullmatch(pattern, found[0].group()):
            return
        start, end = a + found[0].start(), a + found[0].end()
        self.sites.append(Site(kind, start, end, self.code[start:end], self.line_of(start), weight))


def _label(parent: ast.AST | None) -> str:
    """A human name for a constant: its assignment target or keyword."""
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
        target = parent.targets[0]
        return target.id if isinstance(target, ast.Name) else ""
    if isinstance(parent, ast.AnnAssign) and isinstance(parent.target, ast.Name):
        return parent.target.id
    if isinstance(parent, ast.keyword):
        return parent.arg or ""
    return ""


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))
    )


def find_sites(code: str) -> list[Site]:
    """Every mutable site whose whole node lies inside an EVOLVE-BLOCK."""
    blocks = find_blocks(code)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
    except (SyntaxError, ValueError) as exc:
        raise PatchError("syntax_error", f"parent does not parse: {exc}") from exc
    finder = _Finder(code, blocks)
    finder.visit(tree, "Module", None)
    return finder.sites


def _round_sig(x: float) -> float:
    return float(f"{x:.4g}")


def _new_float(v: float, rng: random.Random) -> float:
    r = rng.random()
    if v == 0.0:
        return _round_sig(rng.choice((-1, 1)) * 10 ** rng.uniform(-3, 0))
    if r < 0.04:
        return -v
    sigma = 0.08 if r < 0.75 else 0.3 if r < 0.95 else 1.0
    return _round_sig(v * math.exp(rng.gauss(0.0, sigma)))


def _new_int(v: int, rng: random.Random) -> int:
    if abs(v) >= 10 and rng.random() < 0.5:
        new = round(v * math.exp(rng.gauss(0.0, 0.2)))
    else:
        new = v + rng.choice((-1, 1)) * (1 if rng.random() < 0.8 else rng.randint(2, 3))
    if v >= 0:
        new = max(new, 0)  # a non-negative count or index stays non-negative
    return new if new != v else v + 1


def _mutate_site(site: Site, rng: random.Random, donors: dict[str, list[tuple[int, str]]]) -> Mutation | None:
    after, kind, source = site.text, site.kind, None
    if site.kind == "number":
        options = donors.get(site.key, [])
        if options and rng.random() < 0.4:
            source, after = rng.choice(options)
            kind = "crossover"
        else:
            kind = type(site.value).__name__
            for _ in range(5):
                new = _new_float(site.value, rng) if kind == "float" else _new_int(site.value, rng)
                if new != site.value:
                    after = repr(new)
                    break
    elif site.kind == "compare" and rng.random() < 0.15:
        after = _FLIP[site.text]
    else:
        after = _SWAP[site.text]
    if after == site.text:
        return None
    return Mutation(kind, site.line, site.start, site.end, site.text, after, site.label, source)


def _donors(code: str, inspirations: Sequence[ProgramView]) -> dict[str, list[tuple[int, str]]]:
    """Constant texts found at the same structural position in inspirations with the same blocks."""
    try:
        n_blocks = len(find_blocks(code))
    except PatchError:
        return {}
    donors: dict[str, list[tuple[int, str, int | float | None]]] = {}
    for view in inspirations:
        try:
            if len(find_blocks(view.code)) != n_blocks:
                continue
            sites = find_sites(view.code)
        except PatchError:
            continue
        for s in sites:
            if s.kind == "number":
                donors.setdefault(s.key, []).append((view.candidate_id, s.text, s.value))
    own = {s.key: s.value for s in find_sites(code) if s.kind == "number"}
    return {
        key: [(cid, text) for cid, text, value in found if type(value) is type(own[key]) and value != own[key]]
        for key, found in donors.items()
        if key in own
    }


def _choose_sites(sites: list[Site], k: int, rng: random.Random) -> list[Site]:
    pool, chosen = list(sites), []
    while pool and len(chosen) < k:
        site = rng.choices(pool, weights=[s.weight for s in pool])[0]
        pool.remove(site)
        if all(site.end <= c.start or c.end <= site.start for c in chosen):
            chosen.append(site)
    return chosen


def mutate_code(
    code: str, rng: random.Random, inspirations: Sequence[ProgramView] = (), attempts: int = 8
) -> tuple[str, tuple[Mutation, ...]]:
    """A mutated child that compiles and only differs inside blocks, plus what was changed."""
    sites = find_sites(code)
    if not sites:
        raise PatchError("no_mutation_site", "no numeric constant or operator inside EVOLVE-BLOCKs")
    donors = {k: v for k, v in _donors(code, inspirations).items() if v}
    for _ in range(attempts):
        r = rng.random()
        k = 1 if r < 0.7 else 2 if r < 0.9 else 3
        muts = [m for s in _choose_sites(sites, k, rng) if (m := _mutate_site(s, rng, donors))]
        if not muts:
            continue
        child = code
        for m in sorted(muts, key=lambda m: m.start, reverse=True):
            child = child[: m.start] + m.after + child[m.end :]
        try:
            check_syntax(child)
            check_edit(code, child)
        except PatchError:
            continue
        return child, tuple(sorted(muts, key=lambda m: m.start))
    raise PatchError("no_valid_mutation", f"no mutation compiled after {attempts} attempts")


@dataclass(frozen=True)
class OfflineMutator:
    """Proposer that mutates constants and operators; deterministic per request seed."""

    attempts: int = 8
    name: ClassVar[str] = "offline"
    note: ClassVar[str] = "no LLM configured: AST mutation of constants and operators"

    async def propose(self, request: ProposalRequest) -> Proposal:
        started = time.perf_counter()
        ids = ", ".join(f"#{v.candidate_id}" for v in request.inspirations) or "none"
        prompt = (
            f"offline AST mutation of candidate #{request.parent.candidate_id} "
            f"(iteration {request.iteration}, island {request.island}; inspirations: {ids})"
        )
        rng = random.Random(request.seed)
        try:
            child, muts = mutate_code(request.parent.code, rng, request.inspirations, self.attempts)
        except PatchError as exc:
            return Proposal(code=None, proposer=self.name, model=MODEL, prompt=prompt,
                            failure=exc.reason, detail=str(exc),
                            latency_s=time.perf_counter() - started)
        summary = "; ".join(m.describe() for m in muts)
        return Proposal(code=child, proposer=self.name, model=MODEL, prompt=prompt, response=summary,
                        summary=summary, latency_s=time.perf_counter() - started, operator="mutate")

    def observe(self, feedback: Feedback) -> None:
        """The mutator does not learn."""

    async def aclose(self) -> None:
        return None
