"""Stores filled as a long run would fill them, for the benchmarks that need 1k..100k candidates.

The run is created through the Store (so the schema and its migrations are the real ones); its
iterations are then written in bulk (a few thousand rows per statement, explicit ids), which fills
100k candidates in about a minute instead of ten. For the spot_single problem:
candidates mutate their parent's constants (so code, diffs and prompts are as repetitive as in a
real run; each program is padded to about 3 kB), with a realistic mix of statuses (valid,
invalid, failed with a traceback, rejected, duplicate), per-stage metrics and feedback, and
content hashes of the real kind. With `llm`, one call per candidate with a prompt (system text,
problem context, parent, two inspirations, feedback: about 12 kB) and an answer, priced for two
models; else one offline mutation per candidate.
"""

from __future__ import annotations

import difflib
import hashlib
import random
import re
from collections import deque
from pathlib import Path

from sqlalchemy import create_engine, insert, update

from evolve.config import RunConfig
from evolve.llm_config import build_llm
from evolve.problem import load_problem
from evolve.store import Store
from evolve.store import models as m
from evolve.store.records import CandidateRecord, EvaluationRecord, ProposalRecord

PROBLEM = Path(__file__).resolve().parent.parent / "problems" / "spot_single"
MODELS = {"openai/gpt-5-mini": (0.25, 2.0), "anthropic/claude-sonnet-4-5": (3.0, 15.0)}
CHUNK = 2000  # rows per bulk insert
NUMBER = re.compile(r"(?<=[=\s])(\d+\.\d+)")
PADDING = "# " + "notes on the policy kept by its authors; they do not change what it does. " * 12 + "\n"
TRACEBACK = "Traceback (most recent call last):\n" + "".join(
    f'  File "/work/candidate.py", line {n}, in decide\n    slack = obs.remaining_time_hours - self.overhead\n' for n in (40, 52, 61)
) + "ZeroDivisionError: float division by zero\n"


def generate(
    url: str, n: int, llm: bool, rng: random.Random, name: str | None = None, islands: int = 4, pad: bool = True
) -> tuple[Store, str]:
    """A run of `n` candidates (the seed and n - 1 children) in the store at `url`; (store, run name).

    `pad`: programs of about 3 kB (the shipped seed is 2 kB).
    """
    problem = load_problem(PROBLEM)
    settings = build_llm([{}], [f"{m}={w}" for m, w in zip(MODELS, (0.7, 0.3))], None, None) if llm else None
    config = RunConfig(iterations=n - 1, islands=islands, proposer="llm" if llm else "offline", llm=settings,
                       sandbox="process", workloads="public")  # fmt: skip
    store = Store(url)
    name = name or f"{'llm' if llm else 'offline'}-{n}"
    run = store.create_run(name, problem.name, str(problem.root), problem.version(), config.model_dump(mode="json"))
    seed_code = problem.seed_code + (PADDING * 2 if pad else "")
    seed = store.commit_iteration(run.id, _candidate(0, 0, None, seed_code, "", "valid", 36.4, 35.8, rng), None, True)
    recent: deque[CandidateRecord] = deque([seed], maxlen=60)
    best, best_id = seed.score, seed.id
    writer = _BulkWriter(url, run.id)
    for i in range(1, n):
        island = (i - 1) % islands
        parent = rng.choice([c for c in recent if c.island == island] or [seed])
        code = _mutate(parent.code, rng)
        status = rng.choices(("valid", "invalid", "failed", "rejected", "duplicate"), (65, 12, 8, 10, 5))[0]
        score = min(60.0, parent.score + rng.gauss(0.0, 1.5)) if status == "valid" else None
        new_best = score is not None and score > best
        test = score - abs(rng.gauss(0.0, 0.6)) if new_best else None
        child = _candidate(i, island, parent, code, _diff(parent.code, code), status, score, test, rng)
        stored = writer.add(child, _call(i, parent, list(recent), rng) if llm else _mutation(rng))
        if status == "valid":
            recent.append(stored)
            best = max(best, score)
        if new_best:
            best_id = stored.id
    writer.finish(n - 1, best_id)
    return store, name


class _BulkWriter:
    """Candidates, their calls and evaluations inserted a few thousand at a time, with ids given
    here (the run is the store's only one, so ids follow the seed's)."""

    def __init__(self, url: str, run_id: int):
        self._engine = create_engine(url)
        self._run_id = run_id
        with self._engine.connect() as conn:
            self._next_candidate = conn.scalar(m.Candidate.__table__.select().with_only_columns(m.Candidate.id).order_by(m.Candidate.id.desc()).limit(1)) + 1
        self._next_proposal = 1
        self._rows: dict[str, list[dict]] = {"proposals": [], "candidates": [], "evaluations": []}

    def add(self, c: CandidateRecord, call: ProposalRecord) -> CandidateRecord:
        cid, pid = self._next_candidate, self._next_proposal
        self._next_candidate, self._next_proposal = cid + 1, pid + 1
        self._rows["proposals"].append(dict(id=pid, run_id=self._run_id, iteration=c.iteration, proposer=call.proposer, model=call.model,
                                            prompt=call.prompt, response=call.response, tokens_in=call.tokens_in, tokens_out=call.tokens_out,
                                            cost_usd=call.cost_usd, latency_s=call.latency_s, error=call.error, operator=call.operator,
                                            attempts=list(call.attempts), priced=call.priced, parent_id=c.parent_id, prompt_variant=""))  # fmt: skip
        fields = {k: v for k, v in c.__dict__.items() if k not in ("evaluations", "id")}
        self._rows["candidates"].append(dict(fields, id=cid, run_id=self._run_id, proposal_id=pid, position=c.iteration,
                                             inspiration_ids=list(c.inspiration_ids), features=dict(c.features)))  # fmt: skip
        self._rows["evaluations"].extend(dict(e.__dict__, candidate_id=cid) for e in c.evaluations)
        if len(self._rows["candidates"]) >= CHUNK:
            self._flush()
        return CandidateRecord(**{**c.__dict__, "id": cid, "position": c.iteration})

    def _flush(self) -> None:
        with self._engine.begin() as conn:
            for table in ("proposals", "candidates", "evaluations"):
                if self._rows[table]:
                    conn.execute(insert(m.Base.metadata.tables[table]), self._rows[table])
                    self._rows[table] = []

    def finish(self, done: int, best_id: int | None) -> None:
        self._flush()
        with self._engine.begin() as conn:
            conn.execute(update(m.Run).where(m.Run.id == self._run_id).values(iterations_done=done, best_candidate_id=best_id))
        self._engine.dispose()


def _mutate(code: str, rng: random.Random) -> str:
    head, start, rest = code.partition("# EVOLVE-BLOCK-START")
    block, end, tail = rest.partition("# EVOLVE-BLOCK-END")
    numbers = list(NUMBER.finditer(block))
    hit = rng.choice(numbers)
    block = block[: hit.start()] + f"{float(hit.group()) * rng.uniform(0.7, 1.3):.3f}" + block[hit.end() :]
    return head + start + block + end + tail


def _diff(old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), "a/seed.py", "b/seed.py"))


def _hash(prefix: str, code: str) -> str:
    return hashlib.sha256((prefix + code).encode()).hexdigest()


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
        code=code, code_hash=_hash("", code) if code else "", norm_hash=_hash("ast:", code) if code else "", status=status,
        diff=diff, summary=f"mutate constants at iteration {i}", failure_reason=reason,
        failure_detail=TRACEBACK if status == "failed" else "", score=score, test_score=test,
        features={"code_size": float(len(code)), "on_demand_share": metrics["on_demand_share"]}, evaluations=evaluations,
    )


def _call(i: int, parent: CandidateRecord, recent: list[CandidateRecord], rng: random.Random) -> ProposalRecord:
    model = rng.choices(list(MODELS), (0.7, 0.3))[0]
    inspirations = rng.sample(recent, min(2, len(recent)))
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
