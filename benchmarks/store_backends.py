"""The store on SQLite and on PostgreSQL: what one iteration's commit costs, and what the reads
behind the reporting commands and resume take, for runs of 1k candidates (or --sizes).

    python benchmarks/store_backends.py [--sizes 1000 5000] [--pg URL]

--pg (default: $EVOLVE_TEST_POSTGRES_URL; tests/setup_postgres.sh prints one) names a role that
may create databases: each size gets a fresh database, dropped afterwards. Without it, only SQLite
is measured. Each iteration is written through the Store's public API as a run writes it: a 3 kB
program, an LLM call (an 8 kB prompt, a 1 kB answer) and two stage evaluations, one transaction.
Two writers: two processes commit into two runs of one database at once (a team's shared store),
iterations per second summed over both, against one writer alone.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from evolve.report import run_summary
from evolve.store import Store
from evolve.store.records import CandidateRecord, EvaluationRecord, ProposalRecord

CODE = "def decide(obs):\n" + "".join(f"    x{i} = obs.value * {i}.5 + {i}\n" for i in range(90))  # ~3 kB
PROMPT, ANSWER = "p" * 8000, "a" * 1000


def _candidate(i: int, parent_id: int | None, rng: random.Random) -> CandidateRecord:
    score = rng.uniform(0.0, 100.0)
    return CandidateRecord(
        iteration=i, island=i % 4, generation=i, parent_id=parent_id, code=CODE + f"# {i}\n",
        code_hash=uuid.uuid4().hex, norm_hash=uuid.uuid4().hex, status="valid", score=score,
        features={"code_size": 3000.0},
        evaluations=(EvaluationRecord("smoke", {"score": score}, True, None, "ok", None, 0.1),
                     EvaluationRecord("train", {"score": score}, True, None, "fine " * 40, None, 1.2)),
    )  # fmt: skip


def _call(i: int) -> ProposalRecord:
    return ProposalRecord("llm", "openai/gpt-5-mini", PROMPT, ANSWER, 2000, 250, 0.001, 3.0, operator="diff")


def fill(url: str, name: str, n: int, seed: int = 0) -> list[float]:
    """Commit n iterations into a new run; the seconds each commit took."""
    rng, store = random.Random(seed), Store(url)
    run = store.create_run(name, "bench", "/nowhere", "v1", {"iterations": n})
    best, parent, took = -1.0, None, []
    for i in range(n):
        record = _candidate(i, parent, rng)
        start = time.perf_counter()
        stored = store.commit_iteration(run.id, record, _call(i) if i else None, record.score > best)
        took.append(time.perf_counter() - start)
        best, parent = max(best, record.score), stored.id if rng.random() < 0.3 else parent or stored.id
    store.close()
    return took


def _fill_quietly(args: tuple[str, str, int]) -> None:
    fill(*args)


def reads(url: str, name: str) -> dict[str, float]:
    """Seconds for the reads behind status RUN, status, best, candidates and resume's load."""
    store = Store(url)
    run = store.run(name)
    timed = {
        "status RUN": lambda: run_summary(store, run),
        "status": lambda: [run_summary(store, r) for r in store.runs()],
        "best": lambda: store.candidate(store.run(name).best_candidate_id),
        "candidates": lambda: store.candidate_summaries(run.id),
        "resume load": lambda: store.candidates(run.id),
    }
    result = {label: _seconds(read) for label, read in timed.items()}
    store.close()
    return result


def _seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def two_writers(url: str, n: int) -> float:
    """Iterations per second committed by two processes into two runs of one store at once."""
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_fill_quietly, [(url, "alice", n), (url, "bob", n)])
    return 2 * n / (time.perf_counter() - start)


@contextmanager
def sqlite_store(folder: Path, label: str) -> Iterator[str]:
    yield f"sqlite:///{folder / f'{label}.db'}"


@contextmanager
def postgres_store(admin_url: str) -> Iterator[str]:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"evolve_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(backend: str, open_store, n: int) -> dict:
    with open_store(f"{backend}-{n}") as url:
        took = fill(url, "run", n)
        row = {"backend": backend, "n": n, "p50": statistics.median(took) * 1e3,
               "p95": statistics.quantiles(took, n=20)[18] * 1e3, **reads(url, "run")}  # fmt: skip
    with open_store(f"{backend}-{n}-alone") as url:
        alone = n / sum(fill(url, "alone", n))
    with open_store(f"{backend}-{n}-two") as url:
        row.update(alone=alone, two=two_writers(url, n))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--pg", default=os.environ.get("EVOLVE_TEST_POSTGRES_URL"), help="a role that may CREATE DATABASE")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n in args.sizes:
            rows.append(measure("sqlite", lambda label: sqlite_store(Path(folder), label), n))
            if args.pg:
                rows.append(measure("postgresql", lambda _label: postgres_store(args.pg), n))
    if not args.pg:
        print("(no --pg URL and no $EVOLVE_TEST_POSTGRES_URL: SQLite only)")
    print(f"{'backend':<11} {'N':>6} {'commit p50':>10} {'p95 ms':>7} {'status RUN':>10} {'status':>7} {'best':>6} "
          f"{'candidates':>10} {'resume load':>11} {'1 writer it/s':>13} {'2 writers it/s':>14}")  # fmt: skip
    for r in rows:
        print(f"{r['backend']:<11} {r['n']:>6} {r['p50']:>10.2f} {r['p95']:>7.2f} {r['status RUN']:>9.3f}s {r['status']:>6.3f}s "
              f"{r['best']:>5.3f}s {r['candidates']:>9.3f}s {r['resume load']:>10.3f}s {r['alone']:>13.0f} {r['two']:>14.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
