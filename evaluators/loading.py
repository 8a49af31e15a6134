"""Resolve an EvaluatorRef to a live evaluator object (used inside the sandbox)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path

from evaluators.protocol import Evaluator, EvaluatorRef


class EvaluatorLoadError(Exception):
    """The evaluator reference does not resolve to an evaluator."""


def load_evaluator(ref: EvaluatorRef) -> Evaluator:
    module_part, sep, attr = ref.ref.rpartition(":")
    if not sep or not module_part or not attr:
        raise EvaluatorLoadError(f"evaluator reference {ref.ref!r} is not 'module:attr' or 'file.py:attr'")
    if module_part.endswith(".py"):
        module = _load_file(Path(ref.problem_dir) / module_part)
    else:
        try:
            module = importlib.import_module(module_part)
        except ImportError as exc:
            raise EvaluatorLoadError(f"cannot import evaluator module {module_part!r}: {exc}") from exc
    try:
        target = getattr(module, attr)
    except AttributeError as exc:
        raise EvaluatorLoadError(f"evaluator module {module_part!r} has no attribute {attr!r}") from exc
    # A class is always a factory: isinstance(cls, Evaluator) is True when the class itself
    # declares `stages` and `run_stage`, yet it still has to be instantiated.
    if isinstance(target, type) or (not isinstance(target, Evaluator) and callable(target)):
        target = target(**salted(target, ref))
    elif ref.params:
        raise EvaluatorLoadError(f"{ref.ref!r} is an evaluator object; it takes no params")
    if not isinstance(target, Evaluator):
        raise EvaluatorLoadError(f"{ref.ref!r} has no 'stages' and 'run_stage'")
    return target


def salted(factory, ref: EvaluatorRef) -> dict:
    """The factory's params, with `seed` mixed with the run's salt when it takes a seed."""
    params = dict(ref.params)
    if ref.salt is None:
        return params
    try:
        parameter = inspect.signature(factory).parameters.get("seed")
    except (TypeError, ValueError):
        return params
    if parameter is None:
        return params
    base = params.get("seed", parameter.default)
    if isinstance(base, int) and not isinstance(base, bool):
        params["seed"] = mix(base, ref.salt)
    return params


def mix(seed: int, salt: int) -> int:
    """An evaluator's seed for a run with private workloads (the evaluator never sees the salt)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{salt}".encode()).digest()[:8], "big") >> 1


def _load_file(path: Path):
    if not path.is_file():
        raise EvaluatorLoadError(f"evaluator file {path} does not exist")
    name = f"_evolve_evaluator_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise EvaluatorLoadError(f"cannot load evaluator file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
