"""Scores cannot be forged: hostile children go through the real controller, sandbox and store.

The proposer here is a real implementation of the Proposer protocol that answers from a script,
like an httpx MockTransport; everything else is the production path on spot_single.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from evolve.config import RunConfig
from evolve.events import RunStatus
from evolve.problem import load_problem
from evolve.proposers.base import Proposal, ProposalRequest
from evolve.runs import create_run
from evolve.controller import Controller
from evolve.scoring import Scorer
from sandboxes.base import StageOutcome
from sandboxes.framing import parse_frames
from sandboxes.process import ProcessSandbox

PROBLEM = Path(__file__).parent.parent / "problems" / "spot_single"
CONSTANTS = "LAG_LIMIT = 6.0"
CLASS_BLOCK = "    def __init__(self, spec):\n"


class ScriptedProposer:
    name = "scripted"

    def __init__(self, children: list[str]):
        self.children = children

    async def propose(self, request: ProposalRequest) -> Proposal:
        return Proposal(code=self.children[request.iteration - 1], proposer=self.name, summary=f"script {request.iteration}")

    def observe(self, feedback) -> None:
        pass

    async def aclose(self) -> None:
        pass


def _variant(seed: str, constants: str = "", class_lines: str = "") -> str:
    code = seed.replace(CONSTANTS, CONSTANTS + "\n" + constants, 1) if constants else seed
    return code.replace(CLASS_BLOCK, class_lines + CLASS_BLOCK, 1) if class_lines else code


def test_hostile_children_are_rejected_or_gain_nothing(tmp_path):
    problem = load_problem(PROBLEM)
    seed = problem.seed_code
    children = [
        # monkeypatch the scorer to report a perfect score
        _variant(seed, "import evaluators.spot.scoring as _s\n_s.normalised_score = lambda *a: 100.0"),
        # walk up the frames to steal the result channel's nonce
        _variant(seed, "import sys\n_frame = sys._getframe(0)"),
        # write a forged frame straight to a file descriptor
        _variant(seed, "_out = open('/proc/self/fd/1', 'w')"),
        # carry state across scenarios in a class attribute: behave differently after the first one
        _variant(seed, class_lines="    built = []\n\n    def decide(self, obs):\n        return 2 if len(Policy.built) > 1 else self.real(obs)\n\n")
        .replace("        self.overhead = spec", "        Policy.built.append(1)\n        self.overhead = spec", 1)
        .replace("    def decide(self, obs):\n        # Slack", "    def real(self, obs):\n        # Slack", 1),
    ]
    config = RunConfig(iterations=len(children), islands=1, timeout_seconds=60)
    handle = create_run(problem, config, tmp_path / "runs", "hostile", None)
    controller = Controller(
        run=handle.run,
        problem=problem,
        config=config,
        store=handle.store,
        proposer=ScriptedProposer(children),
        scorer=Scorer(problem, ProcessSandbox(), config.limits()),
        sink=RunStatus(),
    )
    result = asyncio.run(controller.run())
    rows = handle.store.candidates(handle.run.id)
    seed_row, *hostile = rows
    assert [(c.status, c.failure_reason) for c in hostile[:3]] == [("rejected", "forbidden")] * 3
    assert all(c.evaluations == () for c in hostile[:3])  # never even run
    memo = hostile[3]
    assert memo.status == "valid"
    assert abs(memo.score - seed_row.score) < 1e-9  # a fresh module per scenario: nothing carried over
    assert result.best.id == seed_row.id


def test_hostile_frame_bytes_never_crash_the_host():
    from evaluators.protocol import EvaluatorRef
    from sandboxes.base import SandboxJob

    job = SandboxJob(code="", evaluator=EvaluatorRef("a:b", "/"), stages=("smoke",))
    nonce = "n" * 32
    payloads = [
        b"[" * 100_000,
        json.dumps({"stage": "smoke", "result": {"metrics": {"score": 10**400}}, "error": None, "detail": "", "seconds": 0}).encode(),
        json.dumps({"stage": "smoke", "result": None, "error": None, "detail": "", "seconds": 10**400}).encode(),
        b"\xff\xfe",
    ]
    for payload in payloads:
        frames = parse_frames(b"@@EVOLVE-RESULT " + nonce.encode() + b" " + payload + b"\n", nonce, job)
        assert frames.problem and frames.problem.startswith("malformed frame")
        assert frames.stages == ()
    assert isinstance(StageOutcome("smoke", None), StageOutcome)
