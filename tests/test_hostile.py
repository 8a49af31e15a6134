"""Hostile candidates against every backend: the host survives, the reason is right, nothing leaks,
no score is forged, and what one job leaves behind cannot be read by the next.

Each program in tests/fixtures/hostile/ says in its header what must happen (`# expect:`, with
per-backend overrides `# expect-docker:`) and where it makes sense (`# backends:`). The expectation
is "ok" (the honest scores), "invalid" (the evaluator's rule caught the answer) or a failure reason.
Jobs go the production path: a WorkerPool of trusted workers, the fixture evaluator
(tests/fixtures/sandbox: each stage the mean of f over its inputs) on the trusted side, the
candidate alone in a box. The AST guard is not involved anywhere here. After every hostile job
the same sandbox runs an honest snoop (tests/fixtures/snoop) that adds 1000 to its score for
anything a previous job left that it can see: its score must be the honest one.
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import shutil
import socket
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

import sandboxes.candidate_server
from backends import ALL, ISOLATING, build
from evaluators.protocol import EvaluatorRef
from sandboxes.base import Limits, Outcome, SandboxJob

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE = FIXTURES / "hostile"
SANDBOX_FIXTURE = FIXTURES / "sandbox"
SNOOP = (FIXTURES / "snoop" / "snoop.py").read_text()
LIMITS = Limits(wall_seconds=2.5, cpu_seconds=5, memory_mb=256, max_output_bytes=100_000, stderr_tail_bytes=4000)
STAGES = ("smoke", "train", "test")
HONEST = {"smoke": 1.5, "train": 15.0, "test": 150.0}  # f(x) = x over each stage's inputs
RANGES = (("score", -1e6, 1e6),)
SECRET_NAME = "EVOLVE_CANARY_API_KEY"
GOOD = "def f(x):\n    return x\n"


@dataclass(frozen=True)
class Case:
    name: str
    code: str
    expect: dict[str, str]  # backend -> "ok" | "invalid" | a failure reason
    backends: tuple[str, ...]


def load_cases() -> list[Case]:
    cases = []
    for path in sorted(HOSTILE.glob("*.py")):
        code = path.read_text()
        header = dict(
            line[2:].split(": ", 1) for line in code.splitlines() if line.startswith("# ") and ": " in line and line[2:].split(": ", 1)[0] in _KEYS
        )
        named = header.get("backends", " ".join(ALL)).split()
        backends = tuple(dict.fromkeys(b for n in named for b in ((n, "bwrap-cold") if n == "bwrap" else (n,))))
        expect = {b: header.get(f"expect-{b}", header.get(f"expect-{b.split('-')[0]}", header["expect"])) for b in ALL}
        cases.append(Case(path.stem, code, expect, backends))
    return cases


_KEYS = {"expect", "backends", *(f"expect-{b}" for b in ALL)}
CASES = load_cases()


@dataclass
class Host:
    """What the host holds that a candidate must not touch: a secret, files, a listening socket."""

    secret: str
    canary: Path
    canary_bytes: bytes
    canary_mtime: int
    run_db: Path
    problem_dir: Path
    server_bytes: bytes
    port: int
    host_ip: str
    connections: list


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    root = tmp_path_factory.mktemp("host")
    secret = "canary-" + secrets.token_hex(12)
    canary = root / "host-canary.txt"
    canary.write_text(f"do not read: {secret}\n")
    run_db = root / "runs" / "hostile-run" / "evolve.db"
    run_db.parent.mkdir(parents=True)
    with sqlite3.connect(run_db) as conn:
        conn.execute("CREATE TABLE t (secret TEXT)")
        conn.execute("INSERT INTO t VALUES (?)", (secret,))
    problem_dir = root / "problem"
    shutil.copytree(SANDBOX_FIXTURE, problem_dir)
    server, connections = _listener()
    old = os.environ.get(SECRET_NAME)
    os.environ[SECRET_NAME] = secret  # the host process's environment, where API keys live
    yield Host(
        secret, canary, canary.read_bytes(), canary.stat().st_mtime_ns, run_db, problem_dir,
        Path(sandboxes.candidate_server.__file__).read_bytes(), server.getsockname()[1], _host_ip(), connections,
    )  # fmt: skip
    server.close()
    if old is None:
        os.environ.pop(SECRET_NAME, None)
    else:
        os.environ[SECRET_NAME] = old


@pytest.fixture(scope="module")
def backend(request):
    """One sandbox per backend for the whole module: failures must not wear it out."""
    loop = asyncio.new_event_loop()
    sandbox = build(request.param)
    yield request.param, sandbox, loop
    loop.run_until_complete(sandbox.aclose())
    gc.collect()  # subprocess transports of killed jobs close while their loop is still open
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()


def run(backend, host: Host, code: str) -> Outcome:
    _, sandbox, loop = backend
    evaluator = EvaluatorRef("evaluator.py:make_evaluator", str(host.problem_dir))
    job = SandboxJob(code=fill(code, host, backend[0]), evaluator=evaluator, stages=STAGES, ranges=RANGES)
    return loop.run_until_complete(sandbox.run(job, LIMITS))


def fill(code: str, host: Host, backend: str = "process") -> str:
    for key, value in {
        "{{SECRET}}": host.secret,
        "{{SECRET_NAME}}": SECRET_NAME,
        "{{CANARY_FILE}}": str(host.canary),
        "{{RUN_DB}}": str(host.run_db),
        "{{PROBLEM_DIR}}": str(host.problem_dir),
        "{{HOST_IP}}": host.host_ip,
        "{{PORT}}": str(host.port),
        "{{ISOLATED}}": "0" if backend == "process" else "1",
    }.items():
        code = code.replace(key, value)
    return code


def scores(outcome: Outcome) -> dict[str, float]:
    return {s.stage: s.result.metrics["score"] for s in outcome.stages if s.result and s.result.valid and "score" in s.result.metrics}


CONTAINED = [(b, c) for c in CASES for b in c.backends]


@pytest.mark.parametrize(("backend", "case"), CONTAINED, indirect=["backend"], ids=[f"{b}-{c.name}" for b, c in CONTAINED])
def test_hostile_candidate_is_contained(backend, host, case):
    name = backend[0]
    outcome = run(backend, host, case.code)
    expected = case.expect[name]
    found = scores(outcome)
    if expected == "ok":
        assert outcome.failure is None, (outcome.failure, outcome.detail[-800:], outcome.stderr_tail[-800:])
        assert found == HONEST, f"found or forged something: {found}\n{outcome.stderr_tail[-1500:]}"
    elif expected == "invalid":
        assert outcome.failure is None, (outcome.failure, outcome.detail[-800:])
        first = outcome.stages[0]
        assert first.result is not None and not first.result.valid and first.result.reason, first
    else:
        assert outcome.failure == expected, (outcome.failure, outcome.detail[-800:], outcome.stderr_tail[-800:])
    assert all(found[stage] == HONEST[stage] for stage in found), f"a forged score was accepted: {found}"
    text = outcome.detail + outcome.stderr_tail + "".join(s.detail + (s.result.feedback if s.result else "") for s in outcome.stages)
    assert host.secret not in text
    _host_untouched(host)
    follow_up = run(backend, host, SNOOP)  # the same sandbox: honest, and it sees nothing left behind
    assert follow_up.failure is None and scores(follow_up) == HONEST, (follow_up.failure, follow_up.detail[-500:], scores(follow_up))
    _host_untouched(host)


def _host_untouched(host: Host) -> None:
    assert host.canary.read_bytes() == host.canary_bytes
    assert host.canary.stat().st_mtime_ns == host.canary_mtime
    assert (host.problem_dir / "evaluator.py").read_bytes() == (SANDBOX_FIXTURE / "evaluator.py").read_bytes()
    assert Path(sandboxes.candidate_server.__file__).read_bytes() == host.server_bytes
    assert not host.connections, f"a candidate reached the host: {host.connections}"


def test_suite_is_big_enough():
    assert len(CASES) >= 35
    assert {"monkeypatch_evaluator", "steal_frames", "patch_numpy", "lying_list", "forge_pool_reply", "mqueue_leftover"} <= {c.name for c in CASES}


@pytest.mark.parametrize("backend", ISOLATING, indirect=True)
def test_a_warm_box_scores_the_next_honest_job_as_a_fresh_box_would(backend, host):
    """Every hostile case, one after another in one sandbox, each followed by an honest job: the
    honest job's scores are exactly those of the same job in a brand-new sandbox."""
    fresh_loop = asyncio.new_event_loop()
    fresh = build(backend[0], max_uses=1)
    try:
        reference = scores(fresh_loop.run_until_complete(fresh.run(
            SandboxJob(GOOD, EvaluatorRef("evaluator.py:make_evaluator", str(host.problem_dir)), STAGES, ranges=RANGES), LIMITS)))
    finally:
        fresh_loop.run_until_complete(fresh.aclose())
        fresh_loop.close()
    assert reference == HONEST
    for case in CASES:
        if backend[0] in case.backends:
            run(backend, host, case.code)
            assert scores(run(backend, host, GOOD)) == reference, case.name


def _listener():
    """TCP (and UDP) on all interfaces, recording anyone who connects."""
    connections: list = []
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen(16)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", server.getsockname()[1]))

    def accept() -> None:
        while True:
            try:
                conn, addr = server.accept()
            except OSError:
                return
            connections.append(("tcp", addr))
            conn.close()

    def receive() -> None:
        while True:
            try:
                _, addr = udp.recvfrom(64)
            except OSError:
                return
            connections.append(("udp", addr))

    threading.Thread(target=accept, daemon=True).start()
    threading.Thread(target=receive, daemon=True).start()
    return server, connections


def _host_ip() -> str:
    """An address of this machine other than loopback (where a container would find the host)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent; this only picks the outgoing interface
        return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()
