"""Real runs for the report tests: the toy problem evolved offline, or by LLMs on the fake server.

Module-scoped fixtures call these once per test module, so every report test reads a store that a
real run wrote (no store is faked). The LLM run's good model writes XSS payloads into the code
it proposes and into its explanation, so they reach the code, diff, summary, prompt and answer.
"""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import pytest
from fakellm import Call, FakeLLM, Reply, parent_code

from evolve.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
XSS = "</script><script>alert(1);window.__xss=1</script><img src=x onerror=\"alert(2);window.__xss=2\">"
GOOD, BAD = "openai/gpt-xss", "anthropic/claude-bad"
PRICES = {GOOD: (1.0, 2.0), BAD: (3.0, 15.0)}
KEYS = {"OPENAI_API_KEY": "sk-test-openai", "ANTHROPIC_API_KEY": "sk-ant-test"}


def toy_with_two_axes(root: Path) -> Path:
    """The toy problem with a second MAP-Elites axis (code size), so the report draws heat maps."""
    problem = root / "toy_problem"
    shutil.copytree(FIXTURES / "toy", problem)
    toml = problem / "problem.toml"
    toml.write_text(toml.read_text() + '\n[[features]]\nmetric = "code_size"\nmin = 0\nmax = 400\nbins = 4\n')
    return problem


def evolve(*args: str) -> None:
    code = main([*args, "--sandbox", "process"]) if args[0] == "run" else main(list(args))
    assert code == 0, f"evolve {' '.join(args)} exited {code}"


def offline_run(root: Path, name: str = "offline", iterations: int = 30) -> Path:
    """A finished offline run of the two-axis toy; returns its runs folder."""
    problem = toy_with_two_axes(root)
    evolve("run", str(problem), "--iterations", str(iterations), "--seed", "2", "--name", name, "--runs-dir", str(root / "runs"))
    return root / "runs"


class XssModel:
    """Moves `a` toward the optimum, leaving a hostile comment; every fifth answer makes `a` invalid."""

    def __init__(self):
        self.calls = itertools.count()

    def __call__(self, call: Call) -> Reply:
        line = re.search(r"^    a = (.+)$", parent_code(call), re.M)
        a = float(line.group(1).split("#")[0])
        n = next(self.calls)
        new = -1.0 if n % 5 == 4 else round(a + (3.7 - a) * (0.3, 0.5, 0.7, 0.9)[n % 4], 6)
        return Reply(f"Closer to the optimum {XSS}\n<<<<<<< SEARCH\n{line.group(0)}\n=======\n    a = {new}  # {XSS}\n>>>>>>> REPLACE\n")


def no_code(call: Call) -> Reply:
    return Reply("I would rather not write code today.")


def llm_run(root: Path, name: str = "llm", iterations: int = 16) -> Path:
    """A finished run of two priced models on the fake server (one useful and hostile, one useless)."""
    problem = toy_with_two_axes(root)
    with pytest.MonkeyPatch.context() as env, FakeLLM({"gpt-xss": XssModel(), "claude-bad": no_code}) as server:
        for key, value in KEYS.items():
            env.setenv(key, value)
        config = _llm_config(root / "llm.toml", server)
        evolve("run", str(problem), "--iterations", str(iterations), "--seed", "1", "--config", str(config),
               "--name", name, "--runs-dir", str(root / "runs"))
    return root / "runs"


def _llm_config(path: Path, server: FakeLLM) -> Path:
    lines = ["[llm]", "[llm.retry]", "base_seconds = 0.01", "[llm.prices]"]
    lines += [f'"{model}" = [{price_in}, {price_out}]' for model, (price_in, price_out) in PRICES.items()]
    lines += ["[[llm.models]]", f'name = "{GOOD}"', f'base_url = "{server.openai_url}"', "weight = 0.7"]
    lines += ["[[llm.models]]", f'name = "{BAD}"', f'base_url = "{server.anthropic_url}"', "weight = 0.3"]
    path.write_text("\n".join(lines) + "\n")
    return path


_SHARED: dict[str, tuple[Path, Path]] = {}


def llm_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The LLM run and its report by `evolve report`: (HTML file, runs folder), made once per session
    (the data, page and browser tests only read them)."""
    if "llm" not in _SHARED:
        root = tmp_path_factory.mktemp("llm_report")
        runs = llm_run(root)
        evolve("report", "llm", "--runs-dir", str(runs), "--out", str(root / "report.html"))
        _SHARED["llm"] = (root / "report.html", runs)
    return _SHARED["llm"]
