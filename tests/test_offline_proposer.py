"""OfflineMutator: deterministic, block-respecting, varied, and good enough to climb a hill."""

from __future__ import annotations

import asyncio
import random

from evolve.blocks import check_edit
from evolve.patching import check_syntax
from evolve.proposers.base import ProgramView, ProposalRequest
from evolve.proposers.offline import OfflineMutator, find_sites, mutate_code

PROGRAM = """\
import math

NONE = 0
SPOT = 1

def frozen(x):
    return x * 2.0 + 1

# EVOLVE-BLOCK-START
SAFETY_MARGIN = 2.0  # keep this comment
MAX_TRIES = 5
ON_DEMAND = 2
def policy(load, price, n):
    \"\"\"Pick a tier; docstring numbers like 0.75 are not tunables.\"\"\"
    label = f"{load:.2f}"
    cost = price * SAFETY_MARGIN - 0.25
    if load < 0.8 and price >= 1.5:
        return SPOT
    for _ in range(MAX_TRIES):
        cost += 0.1
    return NONE if cost > 3.0 or n <= 2 else SPOT
# EVOLVE-BLOCK-END

def main():
    return policy(0.5, 2.0, 3)
"""

TOY = """\
# EVOLVE-BLOCK-START
A = 1.0
B = -0.3
# EVOLVE-BLOCK-END

def score():
    return -(A - 3.7) ** 2 - (B + 1.2) ** 2
"""


def request(code: str, seed: str, inspirations: tuple[ProgramView, ...] = ()) -> ProposalRequest:
    parent = ProgramView(candidate_id=1, code=code, score=None)
    return ProposalRequest(iteration=3, island=0, parent=parent, inspirations=inspirations, seed=seed)


def propose(code: str, seed: str, inspirations: tuple[ProgramView, ...] = ()):
    return asyncio.run(OfflineMutator().propose(request(code, seed, inspirations)))


def toy_score(code: str) -> float:
    namespace: dict = {}
    exec(compile(code, "<toy>", "exec"), namespace)
    return namespace["score"]()


def test_same_seed_same_child_different_seeds_differ():
    first, again = propose(PROGRAM, "run-a/7"), propose(PROGRAM, "run-a/7")
    assert first.code is not None and first.code == again.code and first.summary == again.summary
    children = {propose(PROGRAM, f"run-a/{i}").code for i in range(6)}
    assert len(children) >= 4


def test_children_stay_inside_blocks_compile_and_change():
    for i in range(60):
        p = propose(PROGRAM, f"seed-{i}")
        assert p.failure is None and p.code is not None
        assert p.code != PROGRAM
        check_edit(PROGRAM, p.code)
        check_syntax(p.code)
        assert "# keep this comment" in p.code
        assert p.proposer == "offline" and p.model == "ast-mutator"
        assert p.summary.startswith("line ") and " -> " in p.summary and p.response == p.summary
        assert p.tokens_in == p.tokens_out == 0 and p.cost_usd == 0.0
        assert "#1" in p.prompt


def test_sites_skip_frozen_strings_docstrings_and_enums():
    sites = find_sites(PROGRAM)
    texts = {(s.line, s.text) for s in sites}
    assert all(10 <= s.line <= 21 for s in sites)  # block lines only
    assert (11, "5") in texts and (10, "2.0") in texts
    assert not any(s.line == 12 for s in sites)  # ON_DEMAND = 2 is an enum definition
    assert not any(s.line in (14, 15) for s in sites)  # docstring and f-string format spec
    assert (16, "-") in texts and (17, "<") in texts and (17, "and") in texts


def test_no_mutable_site_is_a_failure():
    code = "# EVOLVE-BLOCK-START\ndef f(x):\n    return x\n# EVOLVE-BLOCK-END\nY = 1.5 < 2\n"
    p = propose(code, "s")
    assert p.code is None and p.failure == "no_mutation_site" and p.detail


def test_bad_blocks_is_a_failure_not_an_exception():
    p = propose("x = 1.5\n", "s")
    assert p.code is None and p.failure == "bad_blocks"


def test_all_mutation_kinds_occur():
    donor = ProgramView(candidate_id=9, code=PROGRAM.replace("SAFETY_MARGIN = 2.0", "SAFETY_MARGIN = 1.25"),
                        score=1.0)
    kinds: dict[str, int] = {}
    for i in range(200):
        _, mutations = mutate_code(PROGRAM, random.Random(f"k{i}"), (donor,))
        for m in mutations:
            kinds[m.kind] = kinds.get(m.kind, 0) + 1
            if m.kind == "crossover":
                assert m.after == "1.25" and m.source == 9 and "(from #9)" in m.describe()
    assert set(kinds) == {"float", "int", "crossover", "compare", "arith", "boolop"}, kinds
    assert kinds["float"] > kinds["int"]  # ints are mutated less often than floats


def test_non_negative_ints_stay_non_negative():
    for i in range(200):
        _, mutations = mutate_code(PROGRAM, random.Random(i))
        for m in mutations:
            if m.kind == "int":
                assert int(m.after) >= 0


def test_hill_climb_improves_toy_score():
    best, best_score = TOY, toy_score(TOY)
    start = best_score
    archive: list[ProgramView] = []
    for it in range(150):
        p = propose(best, f"climb/{it}", tuple(archive[-3:]))
        if p.code is None:
            continue
        score = toy_score(p.code)
        if score > best_score:
            best, best_score = p.code, score
            archive.append(ProgramView(candidate_id=it, code=best, score=score))
    assert start < -8.0
    assert best_score > -0.5, (best_score, best)
    check_edit(TOY, best)
