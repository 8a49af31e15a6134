"""Problem folders: `problem.toml` plus a seed program, baselines and prompt context.

Loading validates everything up front and names the file and the field at fault, so a broken
folder fails before a run starts rather than in the middle of one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evaluators.protocol import EvaluatorRef
from evolve.errors import ProblemError
from evolve.guard import GuardPolicy

PROBLEM_FILE = "problem.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvaluatorSpec(_Strict):
    ref: str
    params: dict = Field(default_factory=dict)
    stages: tuple[str, ...] = ("smoke", "train")
    test_stage: str | None = "test"
    gates: dict[str, float] = Field(
        default_factory=dict,
        description="stage -> the objective the stage before it must reach (at least; at most when minimizing) for it to run",
    )

    @field_validator("ref")
    @classmethod
    def _ref_shape(cls, value: str) -> str:
        module, sep, attr = value.rpartition(":")
        if not sep or not module or not attr:
            raise ValueError("must be 'module:attr' or 'file.py:attr'")
        return value

    @field_validator("stages")
    @classmethod
    def _some_stages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one stage")
        return value


class Objective(_Strict):
    metric: str = "score"
    direction: Literal["maximize", "minimize"] = "maximize"
    range: tuple[float, float] | None = Field(default=None, description="[low, high]: a score outside is an invalid result")

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    @field_validator("range")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not value[0] <= value[1]:
            raise ValueError("must be [low, high] with low <= high")
        return value


class FeatureDim(_Strict):
    """One MAP-Elites axis: an evaluator metric (or `code_size`) binned over [min, max]."""

    metric: str
    min: float
    max: float
    bins: int = Field(default=8, ge=1, le=64)


class RunDefaults(_Strict):
    """Per-problem defaults for `evolve run` and `evolve eval`; command-line options override them."""

    iterations: int | None = Field(default=None, ge=0)
    islands: int | None = Field(default=None, ge=1, le=64)
    workers: int | None = Field(default=None, ge=1, le=256)
    migration_interval: int | None = Field(default=None, ge=1)
    timeout_seconds: float | None = Field(default=None, gt=0, le=86_400)
    memory_mb: int | None = Field(default=None, ge=64)
    sandbox: Literal["auto", "docker", "bwrap", "process"] | None = None


_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],<>=!~ ]*$")


class SandboxSpec(_Strict):
    """What the candidate's side may import beyond numpy and msgpack, and the docker image to use.

    The packages are installed for the candidate, in the sandbox; the evaluator runs on the host
    and imports from the host's environment.
    """

    packages: tuple[str, ...] = Field(default=(), description="pip requirements, e.g. 'scipy>=1.11'")
    image: str | None = Field(default=None, description="docker: this sandbox image instead of $EVOLVE_SANDBOX_IMAGE")

    @field_validator("packages")
    @classmethod
    def _requirements(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for requirement in value:
            if not _REQUIREMENT.match(requirement):
                raise ValueError(f"{requirement!r} is not a package requirement (e.g. 'scipy' or 'scipy>=1.11')")
        return tuple(sorted(set(value)))


class GuardSpec(_Strict):
    """What proposed code may use (see evolve.guard); extra_imports extends the safe list."""

    enabled: bool = True
    extra_imports: tuple[str, ...] = ()


class ProblemFile(_Strict):
    name: str
    description: str = ""
    seed: str
    context: str | None = None
    evaluator: EvaluatorSpec
    objective: Objective = Objective()
    baselines: dict[str, str] = Field(default_factory=dict)
    run: RunDefaults = RunDefaults()
    features: tuple[FeatureDim, ...] = ()
    guard: GuardSpec = GuardSpec()
    sandbox: SandboxSpec = SandboxSpec()
    ranges: dict[str, tuple[float, float]] = Field(default_factory=dict, description="metric -> [low, high]; outside: invalid result")
    llm: dict = Field(default_factory=dict, description="[llm] defaults, merged under the run's (see evolve.llm_config)")

    @field_validator("ranges")
    @classmethod
    def _ranges_ordered(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for name, (low, high) in value.items():
            if not low <= high:
                raise ValueError(f"{name} must be [low, high] with low <= high")
        return value


@dataclass(frozen=True)
class Problem:
    """A loaded, validated problem: paths resolved, seed and context read."""

    name: str
    description: str
    root: Path
    seed_path: Path
    seed_code: str
    context: str
    context_path: Path | None
    evaluator: EvaluatorSpec
    objective: Objective
    baselines: dict[str, Path]
    run_defaults: RunDefaults
    features: tuple[FeatureDim, ...]
    guard: GuardPolicy
    llm_defaults: dict = field(default_factory=dict)
    sandbox: SandboxSpec = SandboxSpec()
    metric_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def ranges(self) -> tuple[tuple[str, float, float], ...]:
        """Every declared metric range (the objective's included), as the sandbox job carries them."""
        ranges = dict(self.metric_ranges)
        if self.objective.range is not None:
            ranges[self.objective.metric] = self.objective.range
        return tuple((name, float(low), float(high)) for name, (low, high) in sorted(ranges.items()))

    @property
    def evaluator_ref(self) -> EvaluatorRef:
        return EvaluatorRef(ref=self.evaluator.ref, problem_dir=str(self.root), params=dict(self.evaluator.params))

    @property
    def all_stages(self) -> tuple[str, ...]:
        test = self.evaluator.test_stage
        return self.evaluator.stages + ((test,) if test else ())

    @property
    def stage_gates(self) -> tuple[tuple[str, str, float], ...]:
        """(stage, the stage before it, threshold) for each of the problem's gates, in cascade order."""
        stages = self.evaluator.stages
        return tuple((s, stages[i - 1], self.evaluator.gates[s]) for i, s in enumerate(stages) if s in self.evaluator.gates)

    @property
    def train_stage(self) -> str:
        """The stage whose objective ranks candidates: the last cascade stage."""
        return self.evaluator.stages[-1]

    @property
    def seed_relpath(self) -> str:
        return self.seed_path.relative_to(self.root).as_posix()

    def version(self) -> str:
        """A hash of the files that define the problem (the evaluator's source included)."""
        digest = hashlib.sha256()
        for path in self._defining_files():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()[:16]

    def _defining_files(self) -> list[Path]:
        files = [self.root / PROBLEM_FILE, self.seed_path, *self.baselines.values()]
        if self.context_path:
            files.append(self.context_path)
        module = self.evaluator.ref.rpartition(":")[0]
        if module.endswith(".py"):
            files.append(self.root / module)
        else:
            try:
                spec = importlib.util.find_spec(module)
            except (ImportError, ValueError):
                spec = None
            if spec is not None and spec.origin and spec.origin.endswith(".py"):
                files.extend(sorted(Path(spec.origin).parent.glob("*.py")))  # the evaluator's package
        return [f for f in files if f.is_file()]


def load_problem(path: str | Path) -> Problem:
    """Load a problem folder (or its problem.toml) from anywhere on disk."""
    root = Path(path).expanduser()
    if root.name == PROBLEM_FILE:
        root = root.parent
    toml_path = root / PROBLEM_FILE
    if not root.exists():
        raise ProblemError(f"problem folder {root} does not exist")
    if not toml_path.is_file():
        raise ProblemError(f"{toml_path} not found: a problem folder needs a {PROBLEM_FILE}")
    try:
        raw = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProblemError(f"{toml_path}: malformed TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ProblemError(f"{toml_path}: not UTF-8 text") from exc
    try:
        spec = ProblemFile.model_validate(raw)
    except ValidationError as exc:
        raise ProblemError(f"{toml_path}: {_first_error(exc)}") from exc
    return _resolve(root.resolve(), toml_path, spec)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = error["msg"]
    if error["type"] == "missing":
        message = "required field is missing"
    elif error["type"] == "extra_forbidden":
        message = "unknown field"
    return f"field '{field}': {message}"


def _resolve(root: Path, toml_path: Path, spec: ProblemFile) -> Problem:
    seed_path = _existing_file(root, spec.seed, toml_path, "seed")
    seed_code = _read_text(seed_path, toml_path, "seed")
    context, context_path = "", None
    if spec.context:
        context_path = _existing_file(root, spec.context, toml_path, "context")
        context = _read_text(context_path, toml_path, "context")
    baselines = {
        name: _existing_file(root, rel, toml_path, f"baselines.{name}") for name, rel in spec.baselines.items()
    }
    if spec.evaluator.ref.rpartition(":")[0].endswith(".py"):
        _existing_file(root, spec.evaluator.ref.rpartition(":")[0], toml_path, "evaluator.ref")
    test_stage = spec.evaluator.test_stage
    if test_stage and test_stage in spec.evaluator.stages:
        raise ProblemError(f"{toml_path}: field 'evaluator.test_stage': '{test_stage}' is also a cascade stage")
    for stage in spec.evaluator.gates:
        if stage not in spec.evaluator.stages[1:]:
            raise ProblemError(
                f"{toml_path}: field 'evaluator.gates.{stage}': a gate guards a cascade stage after the first "
                f"(one of {list(spec.evaluator.stages[1:])})"
            )
    return Problem(
        name=spec.name,
        description=spec.description,
        root=root,
        seed_path=seed_path,
        seed_code=seed_code,
        context=context,
        context_path=context_path,
        evaluator=spec.evaluator,
        objective=spec.objective,
        baselines=baselines,
        run_defaults=spec.run,
        features=spec.features,
        guard=GuardPolicy(enabled=spec.guard.enabled).with_imports(spec.guard.extra_imports),
        llm_defaults=dict(spec.llm),
        sandbox=spec.sandbox,
        metric_ranges=dict(spec.ranges),
    )


def _existing_file(root: Path, rel: str, toml_path: Path, field: str) -> Path:
    path = (root / rel).resolve()
    if not path.is_file():
        raise ProblemError(f"{toml_path}: field '{field}': file {rel!r} not found in {root}")
    return path


def _read_text(path: Path, toml_path: Path, field: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProblemError(f"{toml_path}: field '{field}': {path.name} is not UTF-8 text") from exc


def with_params(problem: Problem, overrides: dict) -> Problem:
    """The problem with some evaluator params replaced (`evolve eval --param KEY=VALUE`)."""
    spec = problem.evaluator.model_copy(update={"params": {**problem.evaluator.params, **overrides}})
    return dataclasses.replace(problem, evaluator=spec)


def parse_param(text: str) -> tuple[str, object]:
    """KEY=VALUE; VALUE is read as a TOML value (42, 0.5, "x", [1, 2]) or else taken as text.
    Text naming an existing file or folder becomes its absolute path (the worker has its own cwd)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise ProblemError(f"--param {text!r}: expected KEY=VALUE")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    if isinstance(value, str) and value and Path(value).expanduser().exists():
        value = str(Path(value).expanduser().resolve())
    return key.strip(), value


def check_evaluator(problem: Problem) -> None:
    """Build the evaluator here, so that a wrong parameter (a trace path, a model name) is one
    clear error before any sandbox starts."""
    from evaluators.loading import EvaluatorLoadError, load_evaluator

    try:
        load_evaluator(problem.evaluator_ref)
    except (EvaluatorLoadError, ValueError, TypeError) as exc:
        raise ProblemError(f"{problem.name}: evaluator {problem.evaluator.ref}: {exc}") from None
