"""Score every problem's seed and baselines on every stage (`evolve problems --baselines`).

Results are cached per problem folder in one JSON file, keyed by the folder's resolved path and
valid while the problem's version (the hash of problem.toml, seed, baselines, context and the
evaluator's source: `Problem.version()`) and the sandbox backend are unchanged. `refresh`
recomputes regardless. A folder that does not load is reported with its error, never cached.

The default cache file is `$EVOLVE_CACHE_DIR/baselines.json`, else
`$XDG_CACHE_HOME/evolve/baselines.json`, else `~/.cache/evolve/baselines.json`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from evolve.config import build_config
from evolve.errors import EvolveError, ProblemError
from evolve.problem import Problem, load_problem
from evolve.scoring import Scorer
from sandboxes.base import Executor

CACHE_FORMAT = 1
Progress = Callable[[str], None]
OpenSandbox = Callable[[Problem], Executor]  # the executor a problem's programs are scored in


@dataclass(frozen=True)
class StageScore:
    score: float | None
    valid: bool
    seconds: float
    error: str | None = None  # why there is no result (failure reason and detail), or the invalidity reason


@dataclass(frozen=True)
class ProgramScores:
    name: str  # "seed" or the baseline's name
    path: str
    stages: dict[str, StageScore]


@dataclass(frozen=True)
class ProblemScores:
    folder: str
    name: str
    version: str | None = None
    sandbox: str | None = None
    train_stage: str | None = None
    test_stage: str | None = None
    programs: tuple[ProgramScores, ...] = ()
    error: str | None = None  # the folder does not load
    cached: bool = False

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ProblemScores":
        programs = tuple(
            ProgramScores(p["name"], p["path"], {k: StageScore(**v) for k, v in p["stages"].items()})
            for p in data["programs"]
        )
        return cls(**{**data, "programs": programs})


def default_cache_file() -> Path:
    root = os.environ.get("EVOLVE_CACHE_DIR")
    if root:
        return Path(root) / "baselines.json"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "evolve" / "baselines.json"


@dataclass
class BaselineCache:
    """The JSON cache file; unreadable or foreign content counts as empty."""

    path: Path
    entries: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path) -> "BaselineCache":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(path)
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or not isinstance(data.get("entries"), dict):
            return cls(path)
        return cls(path, data["entries"])

    def get(self, problem: Problem, sandbox: str) -> ProblemScores | None:
        entry = self.entries.get(str(problem.root))
        if not entry or entry.get("version") != problem.version() or entry.get("sandbox") != sandbox:
            return None
        try:
            scores = ProblemScores.from_json(entry)
        except (KeyError, TypeError, ValueError):
            return None
        return ProblemScores(**{**asdict(scores), "programs": scores.programs, "cached": True})

    def put(self, scores: ProblemScores) -> None:
        self.entries[scores.folder] = {**scores.to_json(), "cached": False}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".baselines-", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"format": CACHE_FORMAT, "entries": self.entries}, handle, indent=1)
        os.replace(tmp, self.path)


def problem_folders(root: Path) -> list[Path]:
    """Every visible sub-folder of `root` (one per problem; broken ones included)."""
    if not root.is_dir():
        raise ProblemError(f"problems folder {root} does not exist")
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def programs_of(problem: Problem) -> list[tuple[str, Path]]:
    return [("seed", problem.seed_path), *sorted(problem.baselines.items())]


async def score_program(problem: Problem, name: str, path: Path, scorer: Scorer) -> ProgramScores:
    """All stages in one sandbox job, in cascade order then test; a stage that stops the job
    (crash, timeout, invalid output) leaves the later ones marked as not run."""
    stages = problem.all_stages
    outcome = await scorer.run(scorer.job(path.read_text(encoding="utf-8"), None, stages))
    results: dict[str, StageScore] = {}
    for stage in stages:
        so = outcome.stage(stage)
        if so is not None and so.result is not None:
            r = so.result
            results[stage] = StageScore(r.metrics.get(problem.objective.metric), r.valid, so.seconds, r.reason)
        elif so is not None:
            results[stage] = StageScore(None, False, so.seconds, f"{so.error}: {so.detail}"[:300])
        else:
            stopped = outcome.failure or "an earlier stage failed or was invalid"
            results[stage] = StageScore(None, False, 0.0, f"not run ({stopped}: {outcome.detail})"[:300])
    return ProgramScores(name, str(path), results)


async def score_problem(problem: Problem, sandbox: Executor, progress: Progress) -> ProblemScores:
    defaults = problem.run_defaults
    config = build_config({"timeout_seconds": defaults.timeout_seconds, "memory_mb": defaults.memory_mb})
    scorer = Scorer(problem, sandbox, config.limits())
    programs = []
    listed = programs_of(problem)
    for k, (name, path) in enumerate(listed, 1):
        progress(f"{problem.name}: scoring {name} ({k}/{len(listed)}) on {', '.join(problem.all_stages)}")
        programs.append(await score_program(problem, name, path, scorer))
    return ProblemScores(
        folder=str(problem.root),
        name=problem.name,
        version=problem.version(),
        sandbox=sandbox.name,
        train_stage=problem.train_stage,
        test_stage=problem.evaluator.test_stage,
        programs=tuple(programs),
    )


async def collect(root: Path, cache: BaselineCache, open_sandbox: OpenSandbox, *, refresh: bool = False, progress: Progress = lambda _: None) -> list[ProblemScores]:
    """Scores for every problem folder under `root`: from the cache when current, else computed
    (and cached). Each problem gets a sandbox of its own (`open_sandbox`: its `[run] sandbox`, its
    `[sandbox] packages`), as `evolve eval` and `evolve run` give it. Broken folders, and folders
    whose sandbox cannot be had, come back with `error` set."""
    out = []
    for folder in problem_folders(root):
        try:
            problem = load_problem(folder)
        except EvolveError as exc:
            progress(f"{folder.name}: cannot load: {exc}")
            out.append(ProblemScores(folder=str(folder.resolve()), name=folder.name, error=str(exc)))
            continue
        try:
            sandbox = open_sandbox(problem)
        except EvolveError as exc:
            progress(f"{problem.name}: no sandbox: {exc}")
            out.append(ProblemScores(folder=str(problem.root), name=problem.name, error=str(exc)))
            continue
        try:
            hit = None if refresh else cache.get(problem, sandbox.name)
            if hit is not None:
                progress(f"{problem.name}: cached (version {hit.version})")
                out.append(hit)
                continue
            scores = await score_problem(problem, sandbox, progress)
        finally:
            await sandbox.aclose()
        cache.put(scores)
        out.append(scores)
    return out


def table_rows(results: list[ProblemScores]) -> tuple[list[str], list[list[str]]]:
    """Plain rows for a table view: one per program, one per broken folder."""
    headers = ["problem", "program", "train", "train s", "test", "test s", "note"]
    rows = []
    for p in results:
        if p.error:
            rows.append([p.name, "-", "-", "-", "-", "-", f"error: {p.error}"])
            continue
        for prog in p.programs:
            train = prog.stages.get(p.train_stage or "")
            test = prog.stages.get(p.test_stage or "") if p.test_stage else None
            notes = [f"{stage}: {s.error}" for stage, s in prog.stages.items() if s.error or not s.valid]
            if p.cached:
                notes.append("cached")
            rows.append([p.name, prog.name, _num(train), _secs(train), _num(test), _secs(test), "; ".join(notes)])
    return headers, rows


def _num(s: StageScore | None) -> str:
    if s is None or s.score is None:
        return "-"
    return f"{s.score:.2f}" + ("" if s.valid else " (invalid)")


def _secs(s: StageScore | None) -> str:
    return "-" if s is None or s.score is None else f"{s.seconds:.2f}"


