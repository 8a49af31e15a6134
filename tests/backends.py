"""Sandbox backends for tests: built for real, skipped when missing here, never skipped in CI.

tests/run.sh sets EVOLVE_REQUIRE_SANDBOXES=1 after installing Docker and bubblewrap, so in CI a
backend that cannot run is a failure, not a skip.
"""

from __future__ import annotations

import os

import pytest

from sandboxes.errors import SandboxUnavailable

ISOLATING = ("docker", "bwrap", "bwrap-cold")
ALL = ("docker", "bwrap", "bwrap-cold", "process")  # bwrap: the warm pool; bwrap-cold: one bwrap per job


def required() -> bool:
    return os.environ.get("EVOLVE_REQUIRE_SANDBOXES") == "1"


def build(name: str, max_uses: int | None = None):
    """The backend behind trusted workers (a WorkerPool), or a skip (a failure when sandboxes are
    required) saying why it cannot run. bwrap-cold starts a fresh sandbox for every job."""
    from sandboxes.choose import make_sandbox

    try:
        if name == "bwrap-cold":
            return make_sandbox("bwrap", max_uses=1)
        return make_sandbox(name, max_uses=max_uses)
    except SandboxUnavailable as exc:
        if required():
            pytest.fail(f"sandbox {name} is required here (EVOLVE_REQUIRE_SANDBOXES=1) but unavailable: {exc}")
        pytest.skip(f"sandbox {name} unavailable here: {exc}")


def available(name: str) -> str | None:
    """None when the backend can run here, else why not (for tests that go through the CLI)."""
    from sandboxes.choose import availability

    found = availability()
    return {"docker": found.docker, "bwrap": found.bwrap}.get(name)


def require(name: str) -> None:
    problem = available(name)
    if problem:
        if required():
            pytest.fail(f"sandbox {name} is required here but unavailable: {problem}")
        pytest.skip(f"sandbox {name} unavailable here: {problem}")
