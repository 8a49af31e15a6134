"""Hostile candidates against every backend: the host survives, the reason is right, nothing leaks.

Each program in tests/fixtures/hostile/ says in its header what must happen (`# expect:`, with
per-backend overrides `# expect-docker:`) and where it makes sense (`# backends:`). The evaluator
is tests/fixtures/sandbox's tiny MeanEvaluator (smoke stage: mean of f(1), f(2)), in a copy of
that folder outside the repository. Programs that look for secrets encode what they found in their
score, so "no leak" and "no forged score" are the same assertion: the score is the honest 1.5.
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

import sandboxes.runner
from backends import ALL, ISOLATING, build
from evaluators.protocol import EvaluatorRef
from evolve.errors import PatchError
from evolve.guard import GuardPolicy, check_code
from sandboxes.base import Limits, Outcome, SandboxJob

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
SANDBOX_FIXTURE = Path(__file__).parent / "fixtures" / "sandbox"
LIMITS = Limits(wall_seconds=2.5, cpu_seconds=5, memory_mb=256, max_output_bytes=100_000, stderr_tail_bytes=4000)
HONEST = 1.5  # f(x) = x over the smoke inputs (1, 2)
SECRET_NAME = "EVOLVE_CANARY_API_KEY"
GOOD = "def f(x):\n    return x\n"


@dataclass(frozen=True)
class Case:
    name: str
    code: str
    expect: dict[str, str]  # backend -> "ok" | a failure reason | "guard"
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
    runner_bytes: bytes
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
        Path(sandboxes.runner.__file__).read_bytes(), server.getsockname()[1], _host_ip(), connections,
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
    job = SandboxJob(code=fill(code, host), evaluator=EvaluatorRef("evaluator.py:make_evaluator", str(host.problem_dir)), stages=("smoke",))
    return loop.run_until_complete(sandbox.run(job, LIMITS))


def fill(code: str, host: Host) -> str:
    for key, value in {
        "{{SECRET}}": host.secret,
        "{{SECRET_NAME}}": SECRET_NAME,
        "{{CANARY_FILE}}": str(host.canary),
        "{{RUN_DB}}": str(host.run_db),
        "{{PROBLEM_DIR}}": str(host.problem_dir),
        "{{HOST_IP}}": host.host_ip,
        "{{PORT}}": str(host.port),
    }.items():
        code = code.replace(key, value)
    return code


def score(outcome: Outcome) -> float | None:
    stage = outcome.stage("smoke")
    return stage.result.metrics.get("score") if stage and stage.result and stage.result.valid else None


CONTAINED = [(b, c) for c in CASES if c.expect["process"] != "guard" for b in c.backends]  # `# backends:`


@pytest.mark.parametrize(("backend", "case"), CONTAINED, indirect=["backend"], ids=[f"{b}-{c.name}" for b, c in CONTAINED])
def test_hostile_candidate_is_contained(backend, host, case):
    name = backend[0]
    outcome = run(backend, host, case.code)
    expected = case.expect[name]
    if expected == "ok":
        assert outcome.failure is None, (outcome.failure, outcome.detail[-800:], outcome.stderr_tail[-800:])
        assert score(outcome) == HONEST, f"found or forged something: score {score(outcome)}\n{outcome.stderr_tail[-1500:]}"
    else:
        assert outcome.failure == expected, (outcome.failure, outcome.detail[-800:], outcome.stderr_tail[-800:])
        assert score(outcome) in (None, HONEST)
    text = outcome.detail + outcome.stderr_tail + "".join(s.detail + (s.result.feedback if s.result else "") for s in outcome.stages)
    assert host.secret not in text
    _host_untouched(host)
    follow_up = run(backend, host, GOOD)  # the same sandbox keeps scoring honestly
    assert follow_up.failure is None and score(follow_up) == HONEST, (follow_up.failure, follow_up.detail[-500:])
    _host_untouched(host)


def _host_untouched(host: Host) -> None:
    assert host.canary.read_bytes() == host.canary_bytes
    assert host.canary.stat().st_mtime_ns == host.canary_mtime
    assert (host.problem_dir / "evaluator.py").read_bytes() == (SANDBOX_FIXTURE / "evaluator.py").read_bytes()
    assert Path(sandboxes.runner.__file__).read_bytes() == host.runner_bytes
    assert not host.connections, f"a candidate reached the host: {host.connections}"


def test_suite_is_big_enough():
    assert len(CASES) >= 20
    assert {c.name for c in CASES if c.expect["process"] == "guard"}, "the in-process forgery case is missing"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_default_guard_rejects_tampering_imports(case):
    """What would reach the host or the verifier needs an import the default guard does not allow."""
    code = "# EVOLVE-BLOCK-START\n" + case.code + "# EVOLVE-BLOCK-END\n"
    harmless = {"infinite_loop", "memory_bomb"}  # plain Python: only the sandbox's limits stop these
    if case.name in harmless:
        check_code(code, GuardPolicy())
        return
    with pytest.raises(PatchError) as err:
        check_code(code, GuardPolicy())
    assert err.value.reason == "forbidden"


@pytest.mark.parametrize("backend", ISOLATING, indirect=True)
def test_lingering_daemon_cannot_touch_a_later_job(backend, host):
    """A process left behind by one job is gone before the next starts (the process backend
    cannot catch a double-forked daemon in a new session: documented, so not tested there)."""
    code = (HOSTILE / "spawn_subprocess.py").read_text()
    assert run(backend, host, code).failure is None
    for _ in range(3):
        assert score(run(backend, host, GOOD)) == HONEST
    _host_untouched(host)


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
