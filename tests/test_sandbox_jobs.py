"""Jobs through the production path (a WorkerPool of trusted workers, the process backend): results,
gates, limits, crashes, the evaluator's own failures, environment and cleanup.

The candidate is real code in a real subprocess; the evaluator is tests/fixtures/sandbox (each
stage the mean of f over its inputs), loaded in the trusted worker, never next to the candidate.
"""

from __future__ import annotations

import asyncio
import textwrap
import time
from pathlib import Path

import pytest

from evaluators.protocol import EvaluatorRef
from sandboxes.base import Gate, Limits, Outcome, SandboxJob
from sandboxes.choose import make_sandbox

FIXTURES = Path(__file__).parent / "fixtures" / "sandbox"
EVALUATOR = EvaluatorRef(ref="evaluator.py:make_evaluator", problem_dir=str(FIXTURES))
STAGES = ("smoke", "train", "test")
FAST = Limits(wall_seconds=3, cpu_seconds=5, memory_mb=512, max_output_bytes=100_000, stderr_tail_bytes=2000)
GOOD = "def f(x):\n    return x\n"


@pytest.fixture(scope="module")
def pool():
    loop = asyncio.new_event_loop()
    sandbox = make_sandbox("process")
    yield sandbox, loop
    loop.run_until_complete(sandbox.aclose())
    loop.close()


def run(pool, code: str, *, stages=STAGES, gate=None, limits=FAST, evaluator=EVALUATOR, ranges=()) -> Outcome:
    sandbox, loop = pool
    job = SandboxJob(code=textwrap.dedent(code), evaluator=evaluator, stages=stages, gates=(gate,) if gate else (), ranges=ranges)
    return loop.run_until_complete(sandbox.run(job, limits))


def scores(outcome: Outcome) -> dict[str, float]:
    return {s.stage: s.result.metrics["score"] for s in outcome.stages if s.result and s.result.valid}


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie waiting for a reaper counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def wait_dead(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def spawn_and_record(pidfile: Path) -> str:
    """Candidate prelude: start a long-lived child, record the candidate's and the child's pids."""
    return textwrap.dedent(
        f"""
        import os, subprocess, sys
        _child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        with open({str(pidfile) + ".tmp"!r}, "w") as _h:
            _h.write(f"{{os.getpid()}} {{_child.pid}}")
        os.rename({str(pidfile) + ".tmp"!r}, {str(pidfile)!r})
        """
    )


# --- results ---------------------------------------------------------------------------------------


def test_good_candidate_scores_every_stage(pool):
    outcome = run(pool, GOOD)
    assert outcome.failure is None, outcome
    assert scores(outcome) == {"smoke": 1.5, "train": 15.0, "test": 150.0}
    assert [s.stage for s in outcome.stages] == list(STAGES)
    assert outcome.wall_seconds > 0


def test_evaluator_params_are_passed(pool):
    ref = EvaluatorRef(ref="evaluator.py:make_evaluator", problem_dir=str(FIXTURES), params={"scale": 2.0})
    assert scores(run(pool, GOOD, evaluator=ref, stages=("smoke",))) == {"smoke": 3.0}


def test_gate_below_threshold_skips_test_stage(pool):
    gate = Gate(stage="test", after="train", metric="score", threshold=20.0)
    outcome = run(pool, GOOD, gate=gate)
    assert outcome.failure is None
    assert scores(outcome) == {"smoke": 1.5, "train": 15.0}


def test_gate_above_threshold_runs_test_stage(pool):
    gate = Gate(stage="test", after="train", metric="score", threshold=10.0)
    assert scores(run(pool, GOOD, gate=gate))["test"] == 150.0


def test_invalid_answer_stops_without_failure_and_says_why(pool):
    outcome = run(pool, "def f(x):\n    return 'nope'\n")
    assert outcome.failure is None
    assert len(outcome.stages) == 1
    assert outcome.stages[0].result.valid is False
    assert "'nope' (str), not a number" in outcome.stages[0].result.reason


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("float('nan')", "nan, not a finite number"),
        ("True", "(bool), not a number"),
        ("{1, 2}", "set, which is not plain data"),
        ("type('L', (list,), {'__len__': lambda s: 0})([1e9])", "[1000000000.0] (list), not a number"),
        ("object()", "object, which is not plain data"),
    ],
    ids=["nan", "bool", "set", "lying-list", "object"],
)
def test_answers_of_the_wrong_type_are_rejected_with_their_reason(pool, answer, reason):
    outcome = run(pool, f"def f(x):\n    return {answer}\n", stages=("smoke",))
    result = outcome.stages[0].result
    assert outcome.failure is None and result is not None and result.valid is False
    assert reason in result.reason, result.reason


def test_a_metric_outside_its_declared_range_is_invalid_output(pool):
    outcome = run(pool, "def f(x):\n    return 1e300\n", ranges=(("score", 0.0, 1000.0),))
    assert outcome.failure == "invalid_output"
    assert "outside its declared range" in outcome.detail


def test_hash_seed_is_fixed(pool):
    code = "def f(x):\n    return float(hash('abc') % 1000)\n"
    assert scores(run(pool, code, stages=("smoke",))) == scores(run(pool, code, stages=("smoke",)))


# --- limits ----------------------------------------------------------------------------------------


def test_infinite_loop_times_out_and_kills_the_group(pool, tmp_path):
    pidfile = tmp_path / "pids"
    code = spawn_and_record(pidfile) + "def f(x):\n    while True:\n        pass\n"
    outcome = run(pool, code, limits=Limits(wall_seconds=2, cpu_seconds=10, memory_mb=512))
    assert outcome.failure == "timeout"
    candidate, child = map(int, pidfile.read_text().split())
    assert wait_dead(candidate) and wait_dead(child)


def test_cpu_limit_is_a_timeout(pool):
    spin = "def f(x):\n    while True:\n        pass\n"
    outcome = run(pool, spin, limits=Limits(wall_seconds=10, cpu_seconds=1, memory_mb=512))
    assert outcome.failure == "timeout"
    assert "CPU" in outcome.detail
    assert outcome.wall_seconds < 8


def test_a_hang_in_a_later_stage_keeps_the_stages_that_finished(pool):
    code = "def f(x):\n    while x >= 10:\n        pass\n    return x\n"
    outcome = run(pool, code, limits=Limits(wall_seconds=2, cpu_seconds=10, memory_mb=512))
    assert outcome.failure == "timeout"
    assert scores(outcome) == {"smoke": 1.5}
    assert outcome.stages[-1].stage == "train" and outcome.stages[-1].error == "timeout"


@pytest.mark.parametrize(
    "body",
    ["    return len(bytearray(10**12))\n", "    hog = []\n    while True:\n        hog.append(bytearray(10**6))\n"],
    ids=["one-big", "gradual"],
)
def test_memory_bomb_is_memory(pool, body):
    outcome = run(pool, "def f(x):\n" + body, limits=Limits(wall_seconds=5, cpu_seconds=5, memory_mb=256))
    assert outcome.failure == "memory", outcome
    assert outcome.stages[0].error == "memory"


def test_a_child_holding_the_channel_does_not_turn_a_crash_into_a_timeout(pool, tmp_path):
    pidfile = tmp_path / "pids"
    outcome = run(pool, spawn_and_record(pidfile) + "def f(x):\n    os._exit(3)\n")
    assert outcome.failure == "crash"
    assert "code 3" in outcome.detail
    assert wait_dead(int(pidfile.read_text().split()[1]))


def test_a_lingering_thread_does_not_cost_a_timeout(pool):
    code = "import threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()\n" + GOOD
    outcome = run(pool, code)
    assert outcome.failure is None
    assert scores(outcome)["test"] == 150.0


# --- crashes ---------------------------------------------------------------------------------------


def test_raising_candidate_is_a_crash_with_the_message(pool):
    outcome = run(pool, "def f(x):\n    raise ValueError('boom-42')\n")
    assert outcome.failure == "crash"
    assert "boom-42" in outcome.detail and "candidate.py" in outcome.detail
    assert outcome.stages[0].stage == "smoke" and outcome.stages[0].error == "crash"


def test_import_error_is_a_crash_on_the_first_stage(pool):
    outcome = run(pool, "def f(x) return x\n")
    assert outcome.failure == "crash"
    assert [s.stage for s in outcome.stages] == ["smoke"]
    assert "SyntaxError" in outcome.detail


def test_sys_exit_in_candidate_is_a_crash(pool):
    outcome = run(pool, "import sys\ndef f(x):\n    sys.exit(0)\n")
    assert outcome.failure == "crash"
    assert "SystemExit" in outcome.detail


def test_os_exit_during_import_is_a_crash_without_results(pool):
    outcome = run(pool, "import os\nos._exit(0)\n")
    assert outcome.failure == "crash"
    assert scores(outcome) == {}
    assert "code 0" in outcome.detail


# --- the channel -------------------------------------------------------------------------------------


def test_bytes_written_into_the_channel_are_not_believed(pool):
    code = """
    import os, socket, struct, msgpack
    _forged = msgpack.packb({"ok": True, "names": ["f"]})
    for _fd in range(3, 64):
        try:
            if socket.socket(fileno=os.dup(_fd)).type == socket.SOCK_STREAM:
                os.write(_fd, struct.pack(">I", len(_forged)) + _forged + struct.pack(">I", 9) + b"garbage!!")
        except OSError:
            pass
    def f(x):
        return 1e9
    """
    outcome = run(pool, code)
    assert outcome.failure == "invalid_output"
    assert scores(outcome) == {}


def test_a_flood_into_the_channel_is_output_limit(pool):
    code = """
    import os, socket
    for _fd in range(3, 64):
        try:
            if socket.socket(fileno=os.dup(_fd)).type == socket.SOCK_STREAM:
                os.write(_fd, b"\\xff" * 300_000)
        except OSError:
            pass
    def f(x):
        return x
    """
    assert run(pool, code).failure == "output_limit"


def test_candidate_output_is_kept_as_a_bounded_tail(pool):
    code = """
    import os
    print("a" * 3_000_000)
    os.write(1, b"c" * 1_000_000)
    def f(x):
        return x
    """
    outcome = run(pool, code)
    assert outcome.failure is None, outcome
    assert scores(outcome)["test"] == 150.0
    assert len(outcome.stderr_tail.encode()) <= FAST.stderr_tail_bytes
    assert outcome.stderr_tail.rstrip("\n").endswith("c" * 100)


# --- environment and cleanup -----------------------------------------------------------------------


def test_host_environment_is_not_visible(pool, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "canary-7f3a")
    code = """
    import os
    def f(x):
        leaked = "OPENAI_API_KEY" in os.environ or any("canary-7f3a" in v for v in os.environ.values())
        return 1.0 if leaked else 0.0
    """
    sandbox = make_sandbox("process")  # a new worker: it starts from this (monkeypatched) environment
    loop = pool[1]
    try:
        outcome = run((sandbox, loop), code, stages=("smoke",))
    finally:
        loop.run_until_complete(sandbox.aclose())
    assert scores(outcome) == {"smoke": 0.0}


def test_work_dir_is_home_and_removed_afterwards(pool, tmp_path):
    record = tmp_path / "cwd"
    code = f"""
    import os
    open({str(record)!r}, "w").write(os.getcwd())
    def f(x):
        return 1.0 if os.environ["HOME"] == os.getcwd() == os.environ["TMPDIR"] else 0.0
    """
    assert scores(run(pool, code, stages=("smoke",))) == {"smoke": 1.0}
    assert not Path(record.read_text()).exists()


def test_cancellation_kills_the_worker_and_the_candidate(tmp_path):
    pidfile = tmp_path / "pids"
    code = spawn_and_record(pidfile) + "import time\ntime.sleep(60)\n" + GOOD

    async def scenario() -> tuple[int, int]:
        sandbox = make_sandbox("process")
        job = SandboxJob(code=code, evaluator=EVALUATOR, stages=STAGES)
        task = asyncio.create_task(sandbox.run(job, Limits(wall_seconds=30, memory_mb=512)))
        deadline = time.monotonic() + 10
        while not pidfile.exists():
            assert time.monotonic() < deadline, "candidate never started"
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await sandbox.aclose()
        candidate, child = map(int, pidfile.read_text().split())
        return candidate, child

    candidate, child = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert wait_dead(candidate)  # the candidate dies with the worker (its parent)


# --- the evaluator's own failures --------------------------------------------------------------------


def test_evaluator_that_does_not_load_is_an_evaluator_error(pool):
    ref = EvaluatorRef(ref="missing.py:make_evaluator", problem_dir=str(FIXTURES))
    outcome = run(pool, GOOD, evaluator=ref)
    assert outcome.failure == "evaluator_error"
    assert "does not exist" in outcome.detail


def test_unknown_stage_is_an_evaluator_error(pool):
    outcome = run(pool, GOOD, stages=("smoke", "bogus"))
    assert outcome.failure == "evaluator_error"
    assert "bogus" in outcome.detail


def test_evaluator_returning_a_dict_is_an_evaluator_error(pool):
    ref = EvaluatorRef(ref="evaluator.py:make_dict_evaluator", problem_dir=str(FIXTURES))
    outcome = run(pool, GOOD, evaluator=ref, stages=("smoke",))
    assert outcome.failure == "evaluator_error"
    assert "dict" in outcome.detail


def test_a_worker_that_cannot_start_is_a_sandbox_error():
    from sandboxes.pool import WorkerPool
    from sandboxes.worker import BackendSpec

    async def scenario() -> Outcome:
        sandbox = WorkerPool(BackendSpec("process"), python="/nonexistent/python3")
        try:
            return await sandbox.run(SandboxJob(GOOD, EVALUATOR, STAGES), FAST)
        finally:
            await sandbox.aclose()

    outcome = asyncio.run(scenario())
    assert outcome.failure == "sandbox_error"
