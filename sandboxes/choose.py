"""Which backend to use: `auto` prefers docker, then bwrap, then (loudly) the process backend."""

from __future__ import annotations

from dataclasses import dataclass

from sandboxes.base import Sandbox
from sandboxes.errors import SandboxUnavailable

BACKENDS = ("auto", "docker", "bwrap", "process")


@dataclass(frozen=True)
class Availability:
    docker: str | None  # None: usable; else why not
    bwrap: str | None


def docker_problem(image: str | None = None) -> str | None:
    """None when an engine answers and the image is built and current, else why not."""
    from sandboxes.container import docker_client
    from sandboxes.image import DEFAULT_IMAGE, image_status

    try:
        client = docker_client(timeout=10)
    except SandboxUnavailable as exc:
        return str(exc)
    try:
        status = image_status(client, image or DEFAULT_IMAGE)
    finally:
        client.close()
    return None if status.state == "ok" else status.detail


def availability(image: str | None = None) -> Availability:
    from sandboxes.bwrap import bwrap_works

    return Availability(docker=docker_problem(image), bwrap=bwrap_works())


def check_available(name: str, image: str | None = None) -> None:
    """Raise SandboxUnavailable now when an explicitly named backend cannot run here.

    Lets a command fail before it creates anything (e.g. a run row); `auto` always finds one.
    """
    if name == "docker":
        problem = docker_problem(image)
    elif name == "bwrap":
        from sandboxes.bwrap import bwrap_works

        problem = bwrap_works()
    else:
        return
    if problem:
        raise SandboxUnavailable(problem)


def make_sandbox(name: str, image: str | None = None) -> Sandbox:
    """Build the named backend; SandboxUnavailable (one line) when it cannot run here."""
    if name not in BACKENDS:
        raise SandboxUnavailable(f"unknown sandbox {name!r} (choose from {', '.join(BACKENDS)})")
    if name == "auto":
        return _auto(image)
    if name == "docker":
        from sandboxes.container import DockerSandbox
        from sandboxes.image import DEFAULT_IMAGE

        return DockerSandbox(image=image or DEFAULT_IMAGE)
    if name == "bwrap":
        from sandboxes.bwrap import BwrapSandbox, bwrap_works

        problem = bwrap_works()
        if problem:
            raise SandboxUnavailable(problem)
        return BwrapSandbox()
    from sandboxes.process import ProcessSandbox

    return ProcessSandbox()


def _auto(image: str | None) -> Sandbox:
    found = availability(image)
    if found.docker is None:
        return make_sandbox("docker", image)
    if found.bwrap is None:
        from sandboxes.bwrap import BwrapSandbox

        return BwrapSandbox(note=f"auto chose bwrap because docker is unavailable: {found.docker}")
    from sandboxes.process import ProcessSandbox

    sandbox = ProcessSandbox()
    sandbox.note = (
        f"auto found no isolating backend (docker: {found.docker}; bwrap: {found.bwrap}). "
        f"{ProcessSandbox.note}"
    )
    return sandbox
