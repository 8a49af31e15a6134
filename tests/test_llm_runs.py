"""Evolution runs with LLM ensembles against the fake server, driven through the `evolve` CLI."""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import time
from pathlib import Path

import pytest
from fakellm import Call, Fault, FakeLLM, Malformed, Reply, parent_code

from evolve.blocks import split_program
from evolve.proposers.llm.budget import estimate_tokens

REPO = Path(__file__).parent.parent
GOOD, BAD = "openai/gpt-good", "anthropic/claude-bad"
PRICES = {GOOD: (1.0, 2.0), BAD: (3.0, 15.0)}
KEYS = {"OPENAI_API_KEY": "sk-CANARY-openai-7f3a", "ANTHROPIC_API_KEY": "sk-ant-CANARY-c0de"}


@pytest.fixture(autouse=True)
def api_keys(monkeypatch):
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)


class Toy:
    """Answers for the toy problem: the good model moves `a` toward its optimum (3.7)."""

    def __init__(self):
        self.steps = itertools.count()

    def good(self, call: Call) -> Reply:
        line = re.search(r"^    a = (.+)$", parent_code(call), re.M)
        a = float(line.group(1))
        step = (0.3, 0.5, 0.7)[next(self.steps) % 3]
        new = round(a + (3.7 - a) * step, 6)
        return Reply(f"Move a toward the optimum.\n<<<<<<< SEARCH\n{line.group(0)}\n=======\n    a = {new}\n>>>>>>> REPLACE\n")

    @staticmethod
    def bad(call: Call) -> Reply:
        return Reply("You could consider making it better; I am not sure how.")


def write_config(path: Path, server: FakeLLM, selection: str = "weights", models=(GOOD, BAD), **model_extra) -> Path:
    lines = ["[llm]", f'selection = "{selection}"', "[llm.retry]", "base_seconds = 0.01", "max_attempts = 3", "[llm.prices]"]
    lines += [f'"{m}" = [{PRICES[m][0]}, {PRICES[m][1]}]' for m in models]
    for model in models:
        url = server.anthropic_url if model.startswith("anthropic/") else server.openai_url
        lines += ["[[llm.models]]", f'name = "{model}"', f'base_url = "{url}"', "timeout_seconds = 5", "max_tokens = 300"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in model_extra.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def status_json(cli, run: str) -> dict:
    code, out, err = cli("status", run, "--json")
    assert code == 0, err
    return json.loads(out)


def lineage(tmp_path: Path, run: str) -> list[tuple]:
    db = sqlite3.connect(tmp_path / "runs" / run / "evolve.db")
    return db.execute(
        "SELECT c.iteration, c.status, c.failure_reason, c.code_hash, c.parent_id, c.score, p.model, p.operator, "
        "p.tokens_in, p.tokens_out, p.cost_usd FROM candidates c LEFT JOIN proposals p ON c.proposal_id = p.id "
        "ORDER BY c.iteration"
    ).fetchall()


def test_an_ensemble_run_accounts_every_call_by_model(cli, toy_problem, tmp_path):
    toy = Toy()
    with FakeLLM({"gpt-good": toy.good, "claude-bad": toy.bad}) as server:
        config = write_config(tmp_path / "llm.toml", server)
        code, out, err = cli(
            "run", str(toy_problem), "--iterations", "12", "--config", str(config), "--max-cost", "1", "--name", "ens"
        )
    assert code == 0, err
    assert "LLM spend: 12 calls" in out and "of $1 budget" in out
    summary = status_json(cli, "ens")
    assert summary["state"] == "finished" and summary["proposer_calls"] == 12
    models = {m["model"]: m for m in summary["models"]}
    assert set(models) == {GOOD, BAD} and sum(m["calls"] for m in models.values()) == 12
    assert models[BAD]["failures"] == {"no_code": models[BAD]["calls"]}
    assert summary["best_score"] > summary["seed_score"]
    rows = lineage(tmp_path, "ens")
    for _, _, _, _, _, _, model, _, tokens_in, tokens_out, cost in rows[1:]:
        price_in, price_out = PRICES[model]
        assert cost == pytest.approx((tokens_in * price_in + tokens_out * price_out) / 1e6)
        assert tokens_in > 0 and tokens_out > 0
    assert summary["cost_usd"] == pytest.approx(sum(r[-1] for r in rows[1:]), rel=1e-6)
    assert summary["cost_per_improvement"] == pytest.approx(summary["cost_usd"] / summary["improvements"], rel=1e-4)
    code, out, _ = cli("status", "ens")
    assert "calls by model" in out and "no_code" in out and GOOD in out


def test_a_small_cost_budget_stops_the_run_before_it_is_exceeded(cli, toy_problem, tmp_path):
    toy = Toy()
    budget = 0.012
    with FakeLLM({"gpt-good": toy.good, "claude-bad": toy.bad}) as server:
        config = write_config(tmp_path / "llm.toml", server)
        code, out, err = cli(
            "run", str(toy_problem), "--iterations", "50", "--workers", "3", "--config", str(config),
            "--max-cost", str(budget), "--name", "cheap",
        )
    assert code == 0, err
    summary = status_json(cli, "cheap")
    assert summary["state"] == "stopped" and "cost budget reached" in out
    assert 0 < summary["cost_usd"] <= budget
    db = sqlite3.connect(tmp_path / "runs" / "cheap" / "evolve.db")
    prompts = [p for (p,) in db.execute("SELECT prompt FROM proposals")]
    worst_call = max(
        (estimate_tokens(p) * PRICES[m][0] + 300 * PRICES[m][1]) / 1e6 for p in prompts for m in (GOOD, BAD)
    )
    assert summary["cost_usd"] + worst_call > budget  # it did not stop early either
    assert summary["iterations_done"] < 50
    assert summary["proposer_calls"] == len(server.calls)  # every call made, even for dropped iterations, is on the books


def test_a_token_budget_stops_the_run_and_resume_with_a_larger_one_goes_on(cli, toy_problem, tmp_path):
    toy = Toy()
    with FakeLLM({"gpt-good": toy.good}) as server:
        config = write_config(tmp_path / "llm.toml", server, models=(GOOD,))
        code, out, err = cli(
            "run", str(toy_problem), "--iterations", "20", "--config", str(config), "--max-tokens", "6000", "--name", "tok"
        )
        assert code == 0, err
        first = status_json(cli, "tok")
        assert first["state"] == "stopped" and "token budget reached" in out
        assert first["tokens_in"] + first["tokens_out"] <= 6000
        code, out, err = cli("resume", "tok", "--max-tokens", "1000000")
    assert code == 0, err
    second = status_json(cli, "tok")
    assert second["state"] == "finished" and second["iterations_done"] == 20
    assert second["proposer_calls"] >= 20


def test_a_run_against_the_fake_server_beats_the_spot_seed(cli, tmp_path):
    seed = (REPO / "problems/spot_single/seed.py").read_text()
    up = (REPO / "problems/spot_single/baselines/uniform_progress.py").read_text()
    up_class = up[up.index("class Policy:\n") + len("class Policy:\n"):]
    segments = split_program(seed)
    rewrite = "".join(s.text if i != 3 else up_class for i, s in enumerate(segments))
    constants = segments[1].text
    tuned = constants.replace("= 2.0", "= 0.5").replace("= 3.0", "= 1.0").replace("= 6.0", "= 0.5")
    answers = iter(
        [
            Reply(
                "Tighten the margins and run on-demand as soon as the job falls behind.\n"
                f"<<<<<<< SEARCH\n{constants}=======\n{tuned}>>>>>>> REPLACE\n"
            ),
            Reply(f"Uniform progress with a safety net.\n```python\n{rewrite}```\n"),
        ]
    )
    with FakeLLM(lambda call: next(answers)) as server:
        code, out, err = cli(
            "run", "spot_single", "--runs-dir", str(tmp_path / "runs"), "--iterations", "2", "--islands", "1",
            "--model", "openai/gpt-5-mini", "--base-url", server.openai_url, "--name", "spot",
        )
    assert code == 0, err
    summary = status_json(cli, "spot")
    assert summary["candidates_by_status"] == {"valid": 3}
    assert summary["best_score"] > summary["seed_score"] + 15  # UP-like: about 57 vs the seed's 36
    assert summary["models"][0]["model"] == "openai/gpt-5-mini" and summary["cost_usd"] > 0  # priced from the table


def test_replay_reproduces_the_recorded_lineage_without_a_network(cli, toy_problem, tmp_path):
    toy = Toy()
    flaky = itertools.cycle([Fault(429, {"retry-after-ms": "20"}), Malformed(), Reply("")])

    def bad(call: Call):
        return next(flaky)

    cassette = tmp_path / "calls.jsonl"
    with FakeLLM({"gpt-good": toy.good, "claude-bad": bad}) as server:
        config = write_config(tmp_path / "llm.toml", server, selection="bandit")
        code, _, err = cli(
            "run", str(toy_problem), "--iterations", "14", "--seed", "5", "--workers", "2",
            "--config", str(config), "--record", str(cassette), "--name", "live",
        )
        assert code == 0, err
    code, _, err = cli("run", str(toy_problem), "--model", f"replay/{cassette}", "--name", "again")  # seed etc. from the cassette
    assert code == 0, err
    recorded, replayed = lineage(tmp_path, "live"), lineage(tmp_path, "again")
    assert len(recorded) == 15 and replayed == recorded
    reasons = {r[2] for r in recorded}
    assert reasons & {"llm_rate_limited", "llm_bad_response", "empty_response"}, reasons
    db = sqlite3.connect(tmp_path / "runs" / "again" / "evolve.db")
    attempts = [json.loads(a) for (a,) in db.execute("SELECT attempts FROM proposals WHERE model = ?", (BAD,))]
    assert any(len(a) > 1 and a[0]["outcome"] == "rate_limited" for a in attempts)  # retries were recorded
    code, out, err = cli("run", str(toy_problem), "--model", f"replay/{cassette}", "--iterations", "20", "--name", "past")
    assert code == 0, err
    assert "replay stopped" in out and "no call for iteration 15" in out
    assert status_json(cli, "past")["iterations_done"] == 14 and lineage(tmp_path, "past") == recorded


def test_the_bandit_shifts_calls_toward_the_model_that_improves(cli, toy_problem, tmp_path):
    toy = Toy()
    with FakeLLM({"gpt-good": toy.good, "claude-bad": toy.bad}) as server:
        config = write_config(tmp_path / "llm.toml", server, selection="bandit")
        code, _, err = cli("run", str(toy_problem), "--iterations", "30", "--config", str(config), "--name", "bandit")
    assert code == 0, err
    calls = {m["model"]: m["calls"] for m in status_json(cli, "bandit")["models"]}
    assert calls[GOOD] >= 2 * calls[BAD], calls
    assert calls[BAD] >= 2  # it was tried before being dropped


def test_bad_answers_are_stored_as_failed_proposals_with_their_reason(cli, toy_problem, tmp_path):
    outside = "Return the optimum directly.\n<<<<<<< SEARCH\n    return a, b, c\n=======\n    return 3.7, -1.2, 0.5\n>>>>>>> REPLACE\n"
    answers = iter(
        [Reply("no code here"), Reply(outside), Reply(""), Fault(500), Fault(500), Fault(500), Fault(400),
         Reply("<<<<<<< SEARCH\n    a = 1.0\n=====", truncated=True)]
    )
    with FakeLLM(lambda call: next(answers)) as server:
        config = write_config(tmp_path / "llm.toml", server, models=(GOOD,))
        code, _, err = cli(  # one call at a time, in iteration order: the answers are scripted in call order
            "run", str(toy_problem), "--iterations", "6", "--workers", "1", "--order", "iteration", "--config", str(config), "--name", "bad"
        )
    assert code == 0, err
    reasons = [r[2] for r in lineage(tmp_path, "bad")[1:]]
    assert reasons == ["no_code", "outside_block", "empty_response", "llm_server_error", "llm_bad_request", "truncated"]


def test_api_keys_never_reach_the_store_the_cassette_the_exports_or_the_output(cli, toy_problem, tmp_path):
    evaluator = toy_problem / "evaluator.py"
    evaluator.write_text(
        evaluator.read_text()
        .replace("import time", "import os\nimport time")
        .replace('{"score": score, "a": a}', '{"score": score, "a": a, "saw_key": float(any("CANARY" in v for v in os.environ.values()))}')
    )
    toy = Toy()
    cassette = tmp_path / "calls.jsonl"
    with FakeLLM({"gpt-good": toy.good, "claude-bad": toy.bad}) as server:
        config = write_config(tmp_path / "llm.toml", server)
        code, out, err = cli("run", str(toy_problem), "--iterations", "6", "--config", str(config), "--record", str(cassette), "--name", "keys")
        assert code == 0, err
    assert {c.headers["authorization"] for c in server.calls if c.protocol == "openai"} == {f"Bearer {KEYS['OPENAI_API_KEY']}"}
    code, out2, err2 = cli("export", "keys", "--out", str(tmp_path / "export"))
    assert code == 0, err2
    saw = [json.loads(m) for (m,) in sqlite3.connect(tmp_path / "runs/keys/evolve.db").execute("SELECT metrics FROM evaluations")]
    assert saw and all(m.get("saw_key", 0.0) == 0.0 for m in saw if "score" in m)  # the sandbox had no key
    printed = out + err + out2 + err2
    files = [p for p in tmp_path.rglob("*") if p.is_file() and "toy_problem" not in p.parts]
    assert cassette in files and any(p.name == "evolve.db" for p in files)
    for secret in KEYS.values():
        assert secret not in printed
        for path in files:
            assert secret.encode() not in path.read_bytes(), path


def test_models_can_come_from_the_problems_llm_table(cli, toy_problem, tmp_path):
    toy = Toy()
    with FakeLLM({"gpt-good": toy.good}) as server:
        with open(toy_problem / "problem.toml", "a") as handle:
            handle.write(f'\n[llm]\nmodels = [{{ name = "{GOOD}", base_url = "{server.openai_url}" }}]\n')
        code, out, err = cli("run", str(toy_problem), "--iterations", "3", "--name", "fromtoml")
    assert code == 0, err
    assert [m["model"] for m in status_json(cli, "fromtoml")["models"]] == [GOOD] and len(server.calls) == 3
    assert "LLM spend: 3 calls" in out


def test_a_missing_api_key_is_one_line_and_creates_no_run(cli, toy_problem, tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code, out, err = cli("run", str(toy_problem), "--model", "anthropic/claude-sonnet-4-5", "--name", "nokey")
    assert code == 2 and err.strip().count("\n") == 0 and "ANTHROPIC_API_KEY" in err
    assert not (tmp_path / "runs" / "nokey").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "gpt-5"], "provider/model"),
        (["--model", "acme/gpt-5"], "unknown provider"),
        (["--model", "openai/x=-1"], "weight"),
        (["--model", "replay/missing.jsonl"], "cannot read cassette"),
        (["--selection", "best", "--model", "ollama/qwen"], "selection"),
        (["--model", "openai/gpt-9-unknown", "--max-cost", "5"], "needs a price for openai/gpt-9-unknown"),
    ],
)
def test_bad_model_options_are_one_line_and_exit_2(cli, toy_problem, args, message):
    code, _, err = cli("run", str(toy_problem), *args)
    assert code == 2 and message in err and err.strip().count("\n") == 0, err


def test_a_replay_follows_the_recorded_commit_order_when_calls_finished_out_of_order(cli, toy_problem, tmp_path):
    toy = Toy()
    slow = itertools.count()

    def late_first(call: Call) -> Reply:
        if next(slow) < 2:  # the first two calls answer last: their iterations commit after later ones
            time.sleep(1.5)
        return toy.good(call)

    cassette = tmp_path / "calls.jsonl"
    with FakeLLM({"gpt-good": late_first}) as server:
        config = write_config(tmp_path / "llm.toml", server, models=(GOOD,))
        code, _, err = cli(
            "run", str(toy_problem), "--iterations", "10", "--seed", "3", "--workers", "2", "--order", "completion",
            "--config", str(config), "--record", str(cassette), "--name", "live",
        )  # fmt: skip
        assert code == 0, err
    code, _, err = cli("run", str(toy_problem), "--model", f"replay/{cassette}", "--name", "again")
    assert code == 0, err

    def commits(run: str) -> list[tuple]:
        db = sqlite3.connect(tmp_path / "runs" / run / "evolve.db")
        return db.execute("SELECT iteration, position, seen_upto, code_hash, parent_id, status FROM candidates ORDER BY position").fetchall()

    recorded = commits("live")
    assert [r[0] for r in recorded] != sorted(r[0] for r in recorded)  # the recording committed out of iteration order
    assert commits("again") == recorded and lineage(tmp_path, "again") == lineage(tmp_path, "live")
