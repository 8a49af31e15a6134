"""The answer corpus: realistic LLM answers in every format we meet, each with the parent it was
written for and the outcome a careful parser must reach (and, when applied, the exact child).

`python tests/answer_corpus.py` rewrites tests/fixtures/answers/corpus.jsonl from these cases; a
test checks the file is current. Expected children are built here by plain string edits of the
parent, never by the parser under test.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evolve.edits.corpus import APPLIED, AnswerRecord, write_records  # noqa: E402

CORPUS_FILE = Path(__file__).parent / "fixtures" / "answers" / "corpus.jsonl"

# Parents: a spot scheduler (constants + class methods, frozen helper after the class), a VM
# packing priority (two blocks, one inside a function), and a router whose single block spans
# most of the file with a frozen harness after it (the OpenEvolve layout).

SPOT = '''\
"""Spot scheduler: pick NONE, SPOT or ON_DEMAND every tick and finish before the deadline."""

import math

NONE = 0
SPOT = 1
ON_DEMAND = 2

# EVOLVE-BLOCK-START
SAFETY_MARGIN = 2.0  # hours of slack kept before going on-demand
RESUME_SLACK = 3.0
# EVOLVE-BLOCK-END


class Policy:
    # EVOLVE-BLOCK-START
    def __init__(self, spec):
        self.overhead = spec.restart_overhead_hours
        self.rate = spec.job_hours / spec.deadline_hours

    def decide(self, obs):
        slack = obs.remaining_time_hours - obs.remaining_work_hours - self.overhead
        if slack < SAFETY_MARGIN:
            return ON_DEMAND
        if obs.last_cluster == ON_DEMAND and slack < RESUME_SLACK:
            return ON_DEMAND
        if obs.spot_available:
            return SPOT
        return NONE
    # EVOLVE-BLOCK-END


def make_policy(spec):
    return Policy(spec)
'''

PACK = '''\
"""Priority for VM packing: the VM goes to the highest-scoring machine with room."""

import numpy as np

# EVOLVE-BLOCK-START
CPU_WEIGHT = 1.0
MEM_WEIGHT = 0.25
# EVOLVE-BLOCK-END


def priority(vm, machines):
    # EVOLVE-BLOCK-START
    cpu_left = (machines.cpu_free - vm.cpu) / machines.cpu_capacity
    mem_left = (machines.mem_free - vm.mem) / machines.mem_capacity
    return -(CPU_WEIGHT * cpu_left + MEM_WEIGHT * mem_left)
    # EVOLVE-BLOCK-END
'''

ROUTER = '''\
# EVOLVE-BLOCK-START
"""Router: send each request to the instance with the lowest weighted load."""

QUEUE_WEIGHT = 1.0
KV_WEIGHT = 0.5


class Router:
    def __init__(self, cluster):
        self.n = cluster.n_instances

    def load(self, state, i):
        queued = state.queue_len[i] * QUEUE_WEIGHT
        kv = (state.kv_used[i] + state.queued_kv_tokens[i]) / state.kv_capacity[i]
        return queued + KV_WEIGHT * kv

    def route(self, request, state):
        fits = [i for i in range(self.n) if request.kv_tokens <= state.kv_capacity[i]]
        return min(fits, key=lambda i: self.load(state, i))
# EVOLVE-BLOCK-END


def run_routing(cluster, requests, states):
    """Frozen harness: the evaluator calls this."""
    router = Router(cluster)
    return [router.route(r, s) for r, s in zip(requests, states)]
'''

# Edits used by several answers ------------------------------------------------------------------

DECIDE_OLD = """\
        if obs.spot_available:
            return SPOT
        return NONE
"""
DECIDE_NEW = """\
        if obs.spot_available:
            return SPOT
        lag = obs.elapsed_hours * self.rate - obs.work_done_hours
        if lag > 4.0:
            return ON_DEMAND
        return NONE
"""
ROUTE_OLD = """\
    def route(self, request, state):
        fits = [i for i in range(self.n) if request.kv_tokens <= state.kv_capacity[i]]
        return min(fits, key=lambda i: self.load(state, i))
"""
ROUTE_NEW = """\
    def route(self, request, state):
        fits = [i for i in range(self.n) if request.kv_tokens <= state.kv_capacity[i]]
        # Prefer an idle instance; otherwise the lightest one.
        idle = [i for i in fits if state.queue_len[i] == 0 and state.running[i] == 0]
        return min(idle or fits, key=lambda i: self.load(state, i))
"""


def sr(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def dedent_by(text: str, spaces: int) -> str:
    return "".join(line[spaces:] if line.strip() else line for line in text.splitlines(keepends=True))


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def without_tail(program: str) -> str:
    """The program up to and including its last EVOLVE-BLOCK-END line (the frozen tail left out)."""
    end = program.rindex("# EVOLVE-BLOCK-END")
    return program[: program.index("\n", end) + 1]


def case(id: str, fmt: str, parent: str, answer: str, expect: str, child: str | None = None, operator: str = "diff") -> AnswerRecord:
    return AnswerRecord(
        parent=parent, answer=answer, operator=operator, id=id, format=fmt, expect=expect,
        expect_child=child if expect == APPLIED else None,
    )


def diff_cases() -> list[AnswerRecord]:
    spot_child = SPOT.replace(DECIDE_OLD, DECIDE_NEW)
    two_blocks = SPOT.replace("SAFETY_MARGIN = 2.0", "SAFETY_MARGIN = 1.5").replace(DECIDE_OLD, DECIDE_NEW)
    pack_child = PACK.replace("MEM_WEIGHT = 0.25", "MEM_WEIGHT = 0.4")
    return [
        case("diff-plain", "diff", SPOT,
             "Fall back to on-demand when spot is gone and the job lags its uniform schedule.\n\n"
             + sr(DECIDE_OLD, DECIDE_NEW), APPLIED, spot_child),
        case("diff-two-blocks", "diff: several blocks", SPOT,
             "Two changes: a tighter margin, and a lag check when spot is unavailable.\n\n"
             + sr("SAFETY_MARGIN = 2.0  # hours of slack kept before going on-demand\n",
                  "SAFETY_MARGIN = 1.5  # hours of slack kept before going on-demand\n")
             + "\nAnd in `decide`:\n\n" + sr(DECIDE_OLD, DECIDE_NEW)
             + "\nThe margin matters less once lag is watched.", APPLIED, two_blocks),
        case("diff-in-fence", "diff: blocks inside a fence", PACK,
             "Memory is the scarcer resource on this pool, so weigh it more.\n\n```python\n"
             + sr("MEM_WEIGHT = 0.25\n", "MEM_WEIGHT = 0.4\n") + "```\n", APPLIED, pack_child),
        case("diff-in-diff-fence", "diff: blocks inside a fence", SPOT,
             "```diff\n" + sr(DECIDE_OLD, DECIDE_NEW) + "```\n", APPLIED, spot_child),
        case("diff-shinka-tags", "diff: tagged sections", ROUTER,
             "<NAME>\nidle_first_routing\n</NAME>\n\n<DESCRIPTION>\nSend requests to an idle instance when "
             "one exists: it starts decoding at once.\n</DESCRIPTION>\n\n<DIFF>\n" + sr(ROUTE_OLD, ROUTE_NEW) + "</DIFF>\n",
             APPLIED, ROUTER.replace(ROUTE_OLD, ROUTE_NEW)),
        case("diff-prose-with-snippets", "diff: prose and snippets", SPOT,
             "The current rule\n\n```python\nif obs.spot_available:\n    return SPOT\n```\n\nwaits forever when "
             "spot is gone. I add a lag check:\n\n" + sr(DECIDE_OLD, DECIDE_NEW)
             + "\nExpected effect: fewer deadline misses.\n", APPLIED, spot_child),
        case("diff-crlf-answer", "diff: CRLF answer", SPOT,
             crlf("Lag check.\n" + sr(DECIDE_OLD, DECIDE_NEW)), APPLIED, spot_child),
        case("diff-crlf-parent", "diff: CRLF parent", crlf(PACK),
             "Weigh memory more.\n" + sr("MEM_WEIGHT = 0.25\n", "MEM_WEIGHT = 0.4\n"), APPLIED, crlf(pack_child)),
        case("diff-no-final-newline", "diff: parent without final newline", ROUTER.rstrip("\n"),
             "Idle first.\n" + sr(ROUTE_OLD, ROUTE_NEW), APPLIED, ROUTER.replace(ROUTE_OLD, ROUTE_NEW)),
        case("diff-no-final-newline-last-line", "diff: parent without final newline", PACK.rstrip("\n"),
             "Square the CPU share.\n" + sr(
                 "    return -(CPU_WEIGHT * cpu_left + MEM_WEIGHT * mem_left)\n",
                 "    return -(CPU_WEIGHT * cpu_left ** 2 + MEM_WEIGHT * mem_left)\n"),
             APPLIED, PACK.replace("cpu_left + MEM", "cpu_left ** 2 + MEM")),
        case("diff-drift-dedented", "diff: indentation drift", SPOT,
             "Add a lag check (shown without the class indentation).\n" + sr(dedent_by(DECIDE_OLD, 8), dedent_by(DECIDE_NEW, 8)),
             APPLIED, spot_child),
        case("diff-drift-partly", "diff: indentation drift", ROUTER,
             "Idle instances first.\n" + sr(dedent_by(ROUTE_OLD, 4), dedent_by(ROUTE_NEW, 4)),
             APPLIED, ROUTER.replace(ROUTE_OLD, ROUTE_NEW)),
        case("diff-drift-indented-more", "diff: indentation drift", PACK,
             "Square the CPU share.\n" + sr(
                 "        return -(CPU_WEIGHT * cpu_left + MEM_WEIGHT * mem_left)\n",
                 "        return -(CPU_WEIGHT * cpu_left ** 2 + MEM_WEIGHT * mem_left)\n"),
             APPLIED, PACK.replace("cpu_left + MEM", "cpu_left ** 2 + MEM")),
        case("diff-stray-divider", "diff: stray markers", SPOT,
             "Two edits.\n" + sr("RESUME_SLACK = 3.0\n", "RESUME_SLACK = 2.5\n") + "=======\n" + sr(DECIDE_OLD, DECIDE_NEW),
             APPLIED, SPOT.replace("RESUME_SLACK = 3.0", "RESUME_SLACK = 2.5").replace(DECIDE_OLD, DECIDE_NEW)),
        case("diff-stray-replace", "diff: stray markers", PACK,
             "Weigh memory more.\n" + sr("MEM_WEIGHT = 0.25\n", "MEM_WEIGHT = 0.4\n") + ">>>>>>> REPLACE\n",
             APPLIED, pack_child),
        case("diff-doubled-divider", "diff: stray markers", SPOT,
             "Lag check.\n<<<<<<< SEARCH\n" + DECIDE_OLD + "=======\n" + DECIDE_NEW + "=======\n>>>>>>> REPLACE\n",
             APPLIED, spot_child),
        case("diff-fenced-sections", "diff: fences inside the sections", PACK,
             "<<<<<<< SEARCH\n```python\nMEM_WEIGHT = 0.25\n```\n=======\n```python\nMEM_WEIGHT = 0.4\n```\n>>>>>>> REPLACE\n",
             APPLIED, pack_child),
        case("diff-whitespace-only-line", "diff: trailing whitespace", ROUTER.replace("        self.n = cluster.n_instances\n\n", "        self.n = cluster.n_instances\n    \n"),
             "Cache the instance count.\n" + sr("        self.n = cluster.n_instances\n\n    def load(self, state, i):\n",
                                               "        self.n = cluster.n_instances\n        self.rounds = 0\n\n    def load(self, state, i):\n"),
             APPLIED, ROUTER.replace("        self.n = cluster.n_instances\n\n", "        self.n = cluster.n_instances\n        self.rounds = 0\n\n")),
        case("diff-with-marker-context", "diff", PACK,
             "Keep the marker as context.\n" + sr("# EVOLVE-BLOCK-START\nCPU_WEIGHT = 1.0\n", "# EVOLVE-BLOCK-START\nCPU_WEIGHT = 0.9\n"),
             APPLIED, PACK.replace("CPU_WEIGHT = 1.0", "CPU_WEIGHT = 0.9")),
        # rejections: each of these has no single right reading
        case("diff-ambiguous", "reject: ambiguous", SPOT,
             "Use spot when the margin allows.\n" + sr("            return ON_DEMAND\n", "            return SPOT\n"),
             "ambiguous_search"),
        case("diff-twice", "reject: ambiguous", "# EVOLVE-BLOCK-START\nx = 1\ny = 2\nx = 1\n# EVOLVE-BLOCK-END\n",
             sr("x = 1\n", "x = 3\n"), "ambiguous_search"),
        case("diff-drift-twice", "reject: ambiguous", "class A:\n    # EVOLVE-BLOCK-START\n    def f(self):\n        return 1\n\n    def g(self):\n        if True:\n            return 1\n    # EVOLVE-BLOCK-END\n",
             sr("return 1\n", "return 2\n"), "ambiguous_search"),
        case("diff-frozen-edit", "reject: outside blocks", SPOT,
             "Build the policy with a margin.\n" + sr("def make_policy(spec):\n    return Policy(spec)\n",
                                                      "def make_policy(spec):\n    SAFETY_MARGIN = 1.0\n    return Policy(spec)\n"),
             "outside_block"),
        case("diff-cut-off", "reject: cut off", SPOT,
             "Two edits.\n" + sr("RESUME_SLACK = 3.0\n", "RESUME_SLACK = 2.5\n") + "<<<<<<< SEARCH\n" + DECIDE_OLD + "=======\n        if obs.spot_av",
             "cut_off"),
        case("diff-cut-off-in-search", "reject: cut off", PACK,
             sr("MEM_WEIGHT = 0.25\n", "MEM_WEIGHT = 0.4\n") + "<<<<<<< SEARCH\n    cpu_left = (machines.cpu_free",
             "cut_off"),
        case("diff-invented-search", "reject: unmatched", SPOT,
             "Tune the lag limit.\n" + sr("LAG_LIMIT = 6.0\n", "LAG_LIMIT = 4.0\n"), "unmatched_search"),
        case("diff-missing-search-marker", "reject: malformed", PACK,
             "MEM_WEIGHT = 0.25\n=======\nMEM_WEIGHT = 0.4\n>>>>>>> REPLACE\n", "malformed_diff"),
        case("diff-removes-marker", "reject: outside blocks", PACK,
             sr("MEM_WEIGHT = 0.25\n# EVOLVE-BLOCK-END\n", "MEM_WEIGHT = 0.4\n"), "outside_block"),
    ]


def rewrite_cases() -> list[AnswerRecord]:
    spot_child = SPOT.replace(DECIDE_OLD, DECIDE_NEW)
    router_child = ROUTER.replace(ROUTE_OLD, ROUTE_NEW)
    pack_child = PACK.replace("MEM_WEIGHT = 0.25", "MEM_WEIGHT = 0.4")
    rw = "rewrite"
    return [
        case("rewrite-full", "rewrite", SPOT,
             "Here is the improved program:\n\n```python\n" + spot_child + "```\n", APPLIED, spot_child, rw),
        case("rewrite-stops-at-end", "rewrite: frozen tail left out", SPOT,
             "Updated program:\n```python\n" + without_tail(spot_child) + "```\n", APPLIED, spot_child, rw),
        case("rewrite-stops-at-end-router", "rewrite: frozen tail left out", ROUTER,
             "```python\n" + without_tail(router_child) + "```\nThe harness is unchanged.", APPLIED, router_child, rw),
        case("rewrite-python-line", "rewrite: '# python' first line", SPOT,
             "```python\n# python\n" + spot_child + "```\n", APPLIED, spot_child, rw),
        case("rewrite-python-line-router", "rewrite: '# python' first line", ROUTER,
             "New router:\n```\n# python\n" + without_tail(router_child) + "```\n", APPLIED, router_child, rw),
        case("rewrite-crlf-parent", "rewrite: CRLF parent", crlf(PACK),
             "```python\n" + pack_child + "```\n", APPLIED, crlf(pack_child), rw),
        case("rewrite-no-final-newline", "rewrite: parent without final newline", ROUTER.rstrip("\n"),
             "```python\n" + router_child.rstrip("\n") + "\n```\n", APPLIED, router_child, rw),
        case("rewrite-code-tags", "rewrite: tagged sections", ROUTER,
             "<NAME>\nidle_first\n</NAME>\n<DESCRIPTION>\nIdle instances first.\n</DESCRIPTION>\n<CODE>\n```python\n"
             + router_child + "```\n</CODE>\n", APPLIED, router_child, rw),
        case("rewrite-old-then-new", "rewrite: several fences", PACK,
             "The current weights are\n```python\n# EVOLVE-BLOCK-START\nCPU_WEIGHT = 1.0\nMEM_WEIGHT = 0.25\n# EVOLVE-BLOCK-END\n```\n"
             "and the new program is\n```python\n" + pack_child + "```\n", APPLIED, pack_child, rw),
        case("rewrite-in-diff-operator", "rewrite: answered to a diff prompt", SPOT,
             "A full version is clearer here:\n```python\n" + spot_child + "```\n", APPLIED, spot_child),
        case("rewrite-crlf-answer", "rewrite: CRLF answer", SPOT,
             crlf("```python\n" + without_tail(spot_child) + "```\n"), APPLIED, spot_child, rw),
        # rejections
        case("rewrite-adds-import", "reject: frozen code changed", SPOT,
             "```python\n" + spot_child.replace("import math\n", "import math\nimport random\n") + "```\n",
             "outside_block", operator=rw),
        case("rewrite-changes-harness", "reject: frozen code changed", ROUTER,
             "```python\n" + router_child.replace("zip(requests, states)]", "zip(requests, states)][:1]") + "```\n",
             "outside_block", operator=rw),
        case("rewrite-cut-off", "reject: cut off", SPOT,
             "```python\n" + spot_child[: spot_child.index("        return NONE")], "cut_off", operator=rw),
        case("rewrite-cut-off-in-tail", "reject: cut off", SPOT,
             "```python\n" + spot_child[: spot_child.index("    return Policy(spec)")], "cut_off", operator=rw),
        case("rewrite-two-programs", "reject: ambiguous", PACK,
             "Option A:\n```python\n" + pack_child + "```\nOption B:\n```python\n"
             + PACK.replace("CPU_WEIGHT = 1.0", "CPU_WEIGHT = 0.8") + "```\n", "ambiguous_rewrite", operator=rw),
        case("rewrite-no-markers", "reject: outside blocks", PACK,
             "```python\nCPU_WEIGHT = 1.0\nMEM_WEIGHT = 0.4\n```\n", "outside_block", operator=rw),
        case("prose-only", "reject: no code", SPOT,
             "I would lower the safety margin and add a lag check, but I need more data first.", "no_code", operator=rw),
        case("empty", "reject: no code", SPOT, "", "empty_response", operator=rw),
    ]


def all_cases() -> list[AnswerRecord]:
    return diff_cases() + rewrite_cases()


if __name__ == "__main__":
    CORPUS_FILE.parent.mkdir(parents=True, exist_ok=True)
    print(f"wrote {write_records(CORPUS_FILE, all_cases())} records to {CORPUS_FILE}")
