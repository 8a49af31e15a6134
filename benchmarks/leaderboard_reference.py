"""Score a published program with the leaderboard's own evaluator code, from the user's checkout.

The leaderboard repository publishes results.json only for the spot problems. For eplb and
txn_scheduling the reference is computed here instead, by running the checkout's own simulator
on the same program in a subprocess (never copied into this repository):

txn_scheduling  its txn_simulator and workloads, the program's get_random_costs() after seeding
                Python's and NumPy's generators with 0 (as our shim does: the programs are
                unseeded), scored by its evaluator's calculate_score;
eplb            its evaluator's evaluate_program on the expert-load file given (needs torch).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

MARK = "REFERENCE-RESULT "

TXN = """
import json, random, sys, types
sys.path[:0] = [{resources!r}, {problem!r}]
import numpy
random.seed(0); numpy.random.seed(0)
program = types.ModuleType("program")
exec(compile(open({source!r}).read(), "program", "exec"), program.__dict__)
makespan, schedules, seconds = program.get_random_costs()
import evaluator
print({mark!r} + json.dumps({{"makespan": makespan, "score": evaluator.calculate_score(makespan, True)}}))
"""

EPLB = """
import json, sys, types
sys.path.insert(0, {problem!r})
import evaluator
evaluator.WORKLOAD_PATH = {workload!r}
program = types.ModuleType("program")
exec(compile(open({source!r}).read(), "program", "exec"), program.__dict__)
metrics = evaluator.evaluate_program(program)
print({mark!r} + json.dumps(metrics))
"""


def txn_reference(root: Path, source: str, timeout: float) -> dict:
    problem = root / "problems" / "txn_scheduling"
    return _run(TXN, source, timeout, resources=str(problem / "resources"), problem=str(problem))


def eplb_reference(root: Path, source: str, workload: Path, timeout: float) -> dict:
    return _run(EPLB, source, timeout, problem=str(root / "problems" / "eplb"), workload=str(workload))


def _run(template: str, source: str, timeout: float, **paths) -> dict:
    """The reference metrics, or {"error": ...}."""
    with tempfile.TemporaryDirectory(prefix="adrs-reference-") as folder:
        program = Path(folder) / "program.py"
        program.write_text(source, encoding="utf-8")
        script = template.format(source=str(program), mark=MARK, **paths)
        try:
            done = subprocess.run([sys.executable, "-c", script], cwd=folder, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"the original took more than {timeout:g} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    tail = (done.stderr or done.stdout).strip().splitlines()
    return {"error": tail[-1][:200] if tail else f"exit code {done.returncode}"}
