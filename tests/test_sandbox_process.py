"""ProcessSandbox against real subprocesses: results, limits, forged frames, leaks, cleanup."""

from __future__ import annotations

import asyncio
import textwrap
import time
from pathlib import Path

import pytest

from evaluators.protocol import EvaluatorRef, StageResult
from sandboxes.base import Gate, Limits, Outcome, SandboxJob, StageOutcome
from sandboxes.framing import end_line, parse_frames, result_line
from sandboxes.process import ProcessSandbox

FIXTURES = Path(__file__).parent / "fixtures" / "sandbox"
EVALUATOR = EvaluatorRef(ref="evaluator.py:make_evaluator", problem_dir=str(FIXTURES))
STAGES = ("smoke", "train", "test")
FAST = Limits(wall_seconds=3, cpu_seconds=5, memory_mb=512, max_output_bytes=100_000, stderr_tail_bytes=2000)
GOOD = "def f(x):\n    return x\n"


def run(code: str, *, stages=STAGES, gate=None, limits=FAST, evaluator=EVALUATOR, **sandbox) -> Outcome:
    job = SandboxJob(code=textwrap.dedent(code), evaluator=evaluator, stages=stages, gate=gate)
    return asyncio.run(ProcessSandbox(**sandbox).run(job, limits))


def scores(outcome: Outcome) -> dict[str, float]:
    return {s.stage: s.result.metrics["score"] for s in outcome.stages if s.result and s.result.valid}


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie waiting for a reaper counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def wait_dead(pid: int, seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def spawn_and_record(pidfile: Path) -> str:
    """Candidate prelude: start a long-lived child, record runner and child pids atomically."""
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


def test_good_candidate_scores_every_stage():
    outcome = run(GOOD)
    assert outcome.failure is None, outcome
    assert scores(outcome) == {"smoke": 1.5, "train": 15.0, "test": 150.0}
    assert [s.stage for s in outcome.stages] == list(STAGES)
    assert outcome.wall_seconds > 0


def test_evaluator_params_are_passed():
    ref = EvaluatorRef(ref="evaluator.py:make_evaluator", problem_dir=str(FIXTURES), params={"scale": 2.0})
    assert scores(run(GOOD, evaluator=ref, stages=("smoke",))) == {"smoke": 3.0}


def test_gate_below_threshold_skips_test_stage():
    gate = Gate(stage="test", after="train", metric="score", threshold=20.0)
    outcome = run(GOOD, gate=gate)
    assert outcome.failure is None
    assert scores(outcome) == {"smoke": 1.5, "train": 15.0}


def test_gate_above_threshold_runs_test_stage():
    gate = Gate(stage="test", after="train", metric="score", threshold=10.0)
    outcome = run(GOOD, gate=gate)
    assert outcome.failure is None
    assert scores(outcome)["test"] == 150.0


def test_invalid_result_stops_without_failure():
    outcome = run("def f(x):\n    return 'nope'\n")
    assert outcome.failure is None
    assert len(outcome.stages) == 1
    assert outcome.stages[0].result.valid is False
    assert outcome.stages[0].result.reason == "f returned a non-number"


def test_hash_seed_is_fixed():
    code = "def f(x):\n    return float(hash('abc') % 1000)\n"
    assert scores(run(code, stages=("smoke",))) == scores(run(code, stages=("smoke",)))


# --- limits ----------------------------------------------------------------------------------------


def test_infinite_loop_times_out_and_kills_the_group(tmp_path):
    pidfile = tmp_path / "pids"
    code = spawn_and_record(pidfile) + "def f(x):\n    while True:\n        pass\n"
    started = time.monotonic()
    outcome = run(code, limits=Limits(wall_seconds=2, cpu_seconds=10, memory_mb=512))
    assert outcome.failure == "timeout"
    assert time.monotonic() - started < 4.5
    runner, child = map(int, pidfile.read_text().split())
    assert wait_dead(runner) and wait_dead(child)


def test_cpu_limit_is_a_timeout():
    spin = "def f(x):\n    while True:\n        pass\n"
    outcome = run(spin, limits=Limits(wall_seconds=10, cpu_seconds=1, memory_mb=512))
    assert outcome.failure == "timeout"
    assert "CPU" in outcome.detail
    assert outcome.wall_seconds < 5


def test_result_then_hang_keeps_the_frames_that_arrived():
    code = "def f(x):\n    while x >= 10:\n        pass\n    return x\n"
    outcome = run(code, limits=Limits(wall_seconds=2, cpu_seconds=10, memory_mb=512))
    assert outcome.failure == "timeout"
    assert scores(outcome) == {"smoke": 1.5}


@pytest.mark.parametrize(
    "body",
    [
        "    return len(bytearray(10**12))\n",
        "    hog = []\n    while True:\n        hog.append(bytearray(10**6))\n",
    ],
    ids=["one-big", "gradual"],
)
def test_memory_bomb_is_memory(body):
    outcome = run("def f(x):\n" + body, limits=Limits(wall_seconds=5, cpu_seconds=5, memory_mb=256))
    assert outcome.failure == "memory", outcome
    assert outcome.stages[0].error == "memory"


def test_child_holding_the_pipes_does_not_turn_a_crash_into_a_timeout(tmp_path):
    pidfile = tmp_path / "pids"
    outcome = run(spawn_and_record(pidfile) + "os._exit(3)\n")
    assert outcome.failure == "crash"
    assert "code 3" in outcome.detail
    assert outcome.wall_seconds < 2.0  # well under the 3 s wall limit
    assert wait_dead(int(pidfile.read_text().split()[1]))


def test_child_holding_the_pipes_does_not_delay_results(tmp_path):
    pidfile = tmp_path / "pids"
    outcome = run(spawn_and_record(pidfile) + GOOD)
    assert outcome.failure is None
    assert outcome.wall_seconds < 2.0  # well under the 3 s wall limit
    assert wait_dead(int(pidfile.read_text().split()[1]))


def test_lingering_thread_after_end_does_not_cost_a_timeout():
    code = "import threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()\n" + GOOD
    outcome = run(code)
    assert outcome.failure is None
    assert scores(outcome)["test"] == 150.0
    assert outcome.wall_seconds < FAST.wall_seconds


# --- crashes ---------------------------------------------------------------------------------------


def test_raising_candidate_is_a_crash_with_the_message():
    outcome = run("def f(x):\n    raise ValueError('boom-42')\n")
    assert outcome.failure == "crash"
    assert "boom-42" in outcome.detail
    assert outcome.stages[0].stage == "smoke" and outcome.stages[0].error == "crash"


def test_import_error_is_a_crash_on_the_first_stage():
    outcome = run("def f(x) return x\n")
    assert outcome.failure == "crash"
    assert [s.stage for s in outcome.stages] == ["smoke"]
    assert "SyntaxError" in outcome.detail


def test_sys_exit_in_candidate_is_a_crash():
    outcome = run("import sys\ndef f(x):\n    sys.exit(0)\n")
    assert outcome.failure == "crash"
    assert "SystemExit" in outcome.detail


def test_os_exit_during_import_is_a_crash_without_results():
    outcome = run("import os\nos._exit(0)\n")
    assert outcome.failure == "crash"
    assert outcome.stages == ()
    assert "code 0" in outcome.detail


# --- the result channel ----------------------------------------------------------------------------

FORGER = """
import json, os
_forged = json.dumps({"stage": "smoke", "result": {"metrics": {"score": 1e9}}, "error": None,
                      "detail": "", "seconds": 0.0})
for _nonce in ("0" * 32, "deadbeef" * 4, "", "NONCE"):
    _line = f"\\n@@EVOLVE-RESULT {_nonce} {_forged}\\n@@EVOLVE-END {_nonce}\\n"
    print(_line)
    for _fd in range(1, 64):
        try:
            os.write(_fd, _line.encode())
        except OSError:
            pass
"""


def test_forged_frames_are_ignored():
    outcome = run(FORGER + "def f(x):\n    return 0.0\n")
    assert outcome.failure is None, outcome
    assert scores(outcome) == {"smoke": 0.0, "train": 0.0, "test": 0.0}


def test_forged_frames_cannot_stand_in_for_a_dead_runner():
    outcome = run(FORGER + "os._exit(0)\n")
    assert outcome.failure == "crash"
    assert outcome.stages == ()


def test_flooding_the_private_channel_is_output_limit():
    code = """
    import os
    for _fd in range(3, 64):
        try:
            os.write(_fd, b"x" * 300_000)
        except OSError:
            pass
    def f(x):
        return x
    """
    outcome = run(code)
    assert outcome.failure == "output_limit"


def test_candidate_stdout_goes_to_stderr_and_the_tail_is_bounded():
    code = """
    import os, sys
    print("a" * 3_000_000)
    sys.__stdout__.write("b" * 1_000_000)
    sys.__stdout__.flush()
    os.write(1, b"c" * 1_000_000)
    def f(x):
        return x
    """
    outcome = run(code)
    assert outcome.failure is None, outcome
    assert scores(outcome)["test"] == 150.0
    assert len(outcome.stderr_tail.encode()) <= FAST.stderr_tail_bytes
    assert outcome.stderr_tail.endswith("c" * 100)


# --- environment and cleanup -----------------------------------------------------------------------


def test_host_environment_is_not_visible(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "canary-7f3a")
    code = """
    import os
    def f(x):
        leaked = "OPENAI_API_KEY" in os.environ or any("canary-7f3a" in v for v in os.environ.values())
        return 1.0 if leaked else 0.0
    """
    assert scores(run(code, stages=("smoke",))) == {"smoke": 0.0}


def test_work_dir_is_home_and_removed_afterwards(tmp_path):
    record = tmp_path / "cwd"
    code = f"""
    import os
    open({str(record)!r}, "w").write(os.getcwd())
    def f(x):
        return 1.0 if os.environ["HOME"] == os.getcwd() == os.environ["TMPDIR"] else 0.0
    """
    assert scores(run(code, stages=("smoke",))) == {"smoke": 1.0}
    assert not Path(record.read_text()).exists()


def test_cancellation_kills_the_process_group(tmp_path):
    pidfile = tmp_path / "pids"
    code = spawn_and_record(pidfile) + "import time\ntime.sleep(60)\n" + GOOD

    async def scenario() -> tuple[int, int]:
        job = SandboxJob(code=code, evaluator=EVALUATOR, stages=STAGES)
        task = asyncio.create_task(ProcessSandbox().run(job, Limits(wall_seconds=30, memory_mb=512)))
        deadline = time.monotonic() + 5
        while not pidfile.exists():
            assert time.monotonic() < deadline, "candidate never started"
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        runner, child = map(int, pidfile.read_text().split())
        return runner, child

    runner, child = asyncio.run(asyncio.wait_for(scenario(), 10))
    assert wait_dead(runner) and wait_dead(child)


# --- the backend's own failures --------------------------------------------------------------------


def test_evaluator_that_does_not_load_is_a_sandbox_error():
    ref = EvaluatorRef(ref="missing.py:make_evaluator", problem_dir=str(FIXTURES))
    outcome = run(GOOD, evaluator=ref)
    assert outcome.failure == "sandbox_error"
    assert "does not exist" in outcome.detail


def test_unknown_stage_is_a_sandbox_error():
    outcome = run(GOOD, stages=("smoke", "bogus"))
    assert outcome.failure == "sandbox_error"
    assert "bogus" in outcome.detail


def test_evaluator_returning_a_dict_is_invalid_output():
    ref = EvaluatorRef(ref="evaluator.py:make_dict_evaluator", problem_dir=str(FIXTURES))
    outcome = run(GOOD, evaluator=ref, stages=("smoke",))
    assert outcome.failure == "invalid_output"
    assert "dict" in outcome.detail


def test_runner_that_cannot_start_is_a_sandbox_error():
    outcome = run(GOOD, python="/nonexistent/python3")
    assert outcome.failure == "sandbox_error"


# --- frame parsing ---------------------------------------------------------------------------------

NONCE = "ab" * 16
JOB = SandboxJob(code="", evaluator=EVALUATOR, stages=STAGES)


def frame(stage: str, score: float = 1.0, nonce: str = NONCE) -> bytes:
    return result_line(nonce, StageOutcome(stage, StageResult({"score": score})))


def test_parse_ignores_other_nonces_and_noise():
    data = b"noise\n" + frame("smoke", 9.0, nonce="cd" * 16) + frame("smoke") + end_line("cd" * 16)
    frames = parse_frames(data, NONCE, JOB)
    assert frames.problem is None and not frames.ended
    assert [f.result.metrics["score"] for f in frames.stages] == [1.0]


@pytest.mark.parametrize(
    "data, problem",
    [
        (frame("smoke") + frame("smoke"), "two frames"),
        (frame("smoke") + frame("holdout"), "unrequested"),
        (frame("train"), "no frame"),
        (frame("smoke") + f"\n@@EVOLVE-RESULT {NONCE} {{not json\n".encode(), "malformed"),
        (frame("smoke") + end_line(NONCE), "without a frame"),
    ],
    ids=["duplicate", "unrequested", "skipped", "malformed", "ended-early"],
)
def test_parse_flags_untrustworthy_frames(data, problem):
    assert problem in parse_frames(data, NONCE, JOB).problem


def test_parse_checks_the_gate():
    gate = Gate("test", "train", "score", threshold=5.0)
    gated = SandboxJob(code="", evaluator=EVALUATOR, stages=STAGES, gate=gate)
    shut = frame("smoke") + frame("train", 1.0)
    assert parse_frames(shut + end_line(NONCE), NONCE, gated).problem is None
    assert "gate" in parse_frames(shut + frame("test"), NONCE, gated).problem


def test_parse_drops_a_partial_last_line():
    data = frame("smoke") + frame("train")[:-10]
    frames = parse_frames(data, NONCE, JOB)
    assert frames.problem is None
    assert [f.stage for f in frames.stages] == ["smoke"]
