"""Size and build time of `evolve report` for generated 1k and 10k-candidate runs.

    python benchmarks/report_size.py [--sizes 1000 10000] [--keep DIR] [--browser]

Each store is written through the Store's public API, as a run would write it, for the
spot_single problem: candidates mutate their parent's constants (so code, diffs and prompts are
as repetitive as in a real run), with a realistic mix of statuses (valid, invalid, failed with a
traceback, rejected, duplicate), per-stage metrics and feedback, four islands, and for the LLM rows
one call per candidate with a prompt (system text, problem context, parent, two inspirations,
feedback: about 12 kB) and an answer, priced for two models. Prints one row per store; with
--browser, also the time headless Chromium (/usr/bin/chromium, via Playwright) takes to open the
file and have the page ready (charts drawn, candidate index unpacked).
"""

from __future__ import annotations

import argparse
import difflib
import random
import re
import tempfile
import time
from pathlib import Path

from evolve.config import RunConfig
from evolve.html_report.collect import collect
from evolve.html_report.page import render_page
from evolve.llm_config import build_llm
from evolve.problem import load_problem
from evolve.store import Store
from evolve.store.records import CandidateRecord, EvaluationRecord, ProposalRecord

PROBLEM = Path(__file__).resolve().parent.parent / "problems" / "spot_single"
MODELS = {"openai/gpt-5-mini": (0.25, 2.0), "anthropic/claude-sonnet-4-5": (3.0, 15.0)}
NUMBER = re.compile(r"(?<=[=\s])(\d+\.\d+)")
TRACEBACK = "Traceback (most recent call last):\n" + "".join(
    f'  File "/work/candidate.py", line {n}, in decide\n    slack = obs.remaining_time_hours - self.overhead\n' for n in (40, 52, 61)
) + "ZeroDivisionError: float division by zero\n"


def generate(db_path: Path, n: int, llm: bool, rng: random.Random) -> tuple[Store, str]:
    problem = load_problem(PROBLEM)
    settings = build_llm([{}], [f"{m}={w}" for m, w in zip(MODELS, (0.7, 0.3))], None, None) if llm else None
    config = RunConfig(iterations=n - 1, islands=4, proposer="llm" if llm else "offline", llm=settings, sandbox="docker")
    store = Store(f"sqlite:///{db_path}")
    name = f"{'llm' if llm else 'offline'}-{n}"
    run = store.create_run(name, problem.name, str(problem.root), problem.version(), config.model_dump(mode="json"))
    seed = store.commit_iteration(run.id, _candidate(0, 0, None, problem.seed_code, "", "valid", 36.4, 35.8, rng), None, True)
    valid, best = [seed], seed.score
    for i in range(1, n):
        island = (i - 1) % 4
        parent = rng.choice([c for c in valid[-40:] if c.island == island] or valid[:1])
        code = _mutate(parent.code, rng)
        status = rng.choices(("valid", "invalid", "failed", "rejected", "duplicate"), (65, 12, 8, 10, 5))[0]
        score = min(60.0, parent.score + rng.gauss(0.0, 1.5)) if status == "valid" else None
        new_best = score is not None and score > best
        test = score - abs(rng.gauss(0.0, 0.6)) if new_best else None
        child = _candidate(i, island, parent, code, _diff(parent.code, code), status, score, test, rng)
        stored = store.commit_iteration(run.id, child, _call(i, parent, valid, rng) if llm else _mutation(rng), new_best)
        if status == "valid":
            valid.append(stored)
            best = max(best, score)
    return store, name


def _mutate(code: str, rng: random.Random) -> str:
    head, start, rest = code.partition("# EVOLVE-BLOCK-START")
    block, end, tail = rest.partition("# EVOLVE-BLOCK-END")
    numbers = list(NUMBER.finditer(block))
    hit = rng.choice(numbers)
    block = block[: hit.start()] + f"{float(hit.group()) * rng.uniform(0.7, 1.3):.3f}" + block[hit.end() :]
    return head + start + block + end + tail


def _diff(old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), "a/seed.py", "b/seed.py"))


def _candidate(i, island, parent, code, diff, status, score, test, rng) -> CandidateRecord:
    if status == "rejected":
        code, diff = "", ""
    metrics = {"score": score or 0.0, "avg_cost": rng.uniform(80, 120), "od_cost": 147.35, "spot_cost": 46.86,
               "deadline_misses": 0.0, "invalid_decisions": 0.0, "scenarios": 1080.0,
               "on_demand_share": rng.uniform(0.2, 0.8), "worst_cost_ratio": rng.uniform(0.9, 1.2)}
    feedback = f"train: avg cost ${metrics['avg_cost']:.2f} vs all-on-demand $147.35 -> score {score or 0:.1f}/100\n" + ", ".join(
        f"trace_{k} {rng.randint(20, 99)}%" for k in range(12))
    stages = [] if status in ("rejected", "duplicate") else ["smoke", "train"] + (["test"] if test is not None else [])
    evaluations = tuple(EvaluationRecord(s, metrics, status != "invalid", None, feedback, None, rng.uniform(0.01, 0.4)) for s in stages)
    reason = {"invalid": "invalid", "failed": rng.choice(("timeout", "crash", "memory")), "rejected": "no_code",
              "duplicate": "duplicate"}.get(status)
    return CandidateRecord(
        iteration=i, island=island, generation=parent.generation + 1 if parent else 0, parent_id=parent.id if parent else None,
        code=code, code_hash=f"h{i}", norm_hash=f"n{i}", status=status, diff=diff, summary=f"mutate constants at iteration {i}",
        failure_reason=reason, failure_detail=TRACEBACK if status == "failed" else "", score=score, test_score=test,
        features={"code_size": float(len(code)), "on_demand_share": metrics["on_demand_share"]}, evaluations=evaluations,
    )


def _call(i: int, parent: CandidateRecord, valid: list[CandidateRecord], rng: random.Random) -> ProposalRecord:
    model = rng.choices(list(MODELS), (0.7, 0.3))[0]
    inspirations = rng.sample(valid[-60:], min(2, len(valid[-60:])))
    context = (PROBLEM / "context.md").read_text()
    prompt = "\n\n".join(["You improve a spot-instance scheduler. Answer with SEARCH/REPLACE blocks." * 8, context,
                          "## Current program\n```python\n" + parent.code + "```",
                          *("## Inspiration\n```python\n" + c.code + "```" for c in inspirations),
                          "## Feedback\n" + parent.evaluations[-1].feedback if parent.evaluations else ""])
    line = rng.choice([x for x in parent.code.splitlines() if NUMBER.search(x)] or ["x = 1.0"])
    response = ("The scheduler waits too long on spot when the deadline is near; lowering the margin lets it move "
                "to on-demand earlier and avoids paying for restarts. " * 3
                + f"\n<<<<<<< SEARCH\n{line}\n=======\n{NUMBER.sub('1.234', line)}\n>>>>>>> REPLACE\n")
    tokens_in, tokens_out = len(prompt) // 4, len(response) // 4
    price_in, price_out = MODELS[model]
    return ProposalRecord(proposer="llm", model=model, prompt=prompt, response=response, tokens_in=tokens_in,
                          tokens_out=tokens_out, cost_usd=(tokens_in * price_in + tokens_out * price_out) / 1e6,
                          latency_s=rng.uniform(4, 40), operator="diff", attempts=({"outcome": "ok"},))


def _mutation(rng: random.Random) -> ProposalRecord:
    return ProposalRecord(proposer="offline", model="ast-mutator", operator="mutate", latency_s=rng.uniform(0.001, 0.01))


def measure(folder: Path, n: int, llm: bool) -> dict:
    db = folder / f"{'llm' if llm else 'offline'}-{n}.db"
    started = time.perf_counter()
    store, name = generate(db, n, llm, random.Random(n))
    generated = time.perf_counter() - started
    run = store.run(name)
    t0 = time.perf_counter()
    data = collect(store, run)
    t1 = time.perf_counter()
    page = render_page(data).encode()
    t2 = time.perf_counter()
    (folder / f"{name}.html").write_bytes(page)
    store.close()
    return {"run": name, "candidates": n, "store_mb": db.stat().st_size / 1e6, "report_mb": len(page) / 1e6,
            "collect_s": t1 - t0, "render_s": t2 - t1, "generate_s": generated, "path": folder / f"{name}.html"}


def open_seconds(path: Path) -> float:
    """Seconds from navigation to a ready page in headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        started = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_selector("body[data-ready=true]", timeout=120_000)
        seconds = time.perf_counter() - started
        browser.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--keep", type=Path, help="write the stores and reports here (default: a temp folder)")
    parser.add_argument("--browser", action="store_true", help="also time opening each report in headless Chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        folder = args.keep or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"{'run':<14} {'candidates':>10} {'store MB':>9} {'report MB':>10} {'build s':>8} {'(read':>7} {'render)':>8}"
              + (f" {'open s':>7}" if args.browser else ""))
        for n in args.sizes:
            for llm in (False, True):
                r = measure(folder, n, llm)
                opened = f" {open_seconds(r['path']):>7.2f}" if args.browser else ""
                print(f"{r['run']:<14} {r['candidates']:>10,} {r['store_mb']:>9.1f} {r['report_mb']:>10.1f} "
                      f"{r['collect_s'] + r['render_s']:>8.2f} {r['collect_s']:>7.2f} {r['render_s']:>8.2f}{opened}", flush=True)


if __name__ == "__main__":
    main()
