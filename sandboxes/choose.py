"""Which backend to use: `auto` prefers docker, then bwrap, then (loudly) the process backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sandboxes.base import Executor
from sandboxes.errors import SandboxUnavailable

if TYPE_CHECKING:
    from sandboxes.worker import BackendSpec

BACKENDS = ("auto", "docker", "bwrap", "process")


@dataclass(frozen=True)
class Availability:
    docker: str | None  # None: usable; else why not
    bwrap: str | None


def docker_problem(image: str | None = None) -> str | None:
    """None when an engine answers and the image is built and current, else why not."""
    from sandboxes.container import docker_client
    from sandboxes.image import image_status

    try:
        client = docker_client(timeout=10)
    except SandboxUnavailable as exc:
        return str(exc)
    try:
        status = image_status(client, image)
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


def make_sandbox(
    name: str,
    image: str | None = None,
    max_uses: int | None = None,
    packages: tuple[str, ...] = (),
    log: Callable[[str], None] | None = None,
    slots: int | None = None,
) -> Executor:
    """The named backend behind trusted workers on this machine (a WorkerPool running at most
    `slots` jobs at once); SandboxUnavailable (one line) when it cannot run here."""
    from sandboxes.pool import WorkerPool

    backend, note = backend_spec(name, image, max_uses, packages, log)
    return WorkerPool(backend, note=note, slots=slots)


def backend_spec(
    name: str,
    image: str | None = None,
    max_uses: int | None = None,
    packages: tuple[str, ...] = (),
    log: Callable[[str], None] | None = None,
) -> tuple[BackendSpec, str]:
    """What trusted workers are told to build (resolved here: `auto`, the image, the packages), and
    the note that says why when it is not the obvious choice.

    `packages`: what the candidate may import beyond numpy and msgpack (sandboxes.packages),
    installed once per set; `log` hears about that slow first time.
    """
    from sandboxes.process import ProcessBackend

    if name not in BACKENDS:
        raise SandboxUnavailable(f"unknown sandbox {name!r} (choose from {', '.join(BACKENDS)})")
    if name == "auto":
        name, note = _auto(image)
    else:
        check_available(name, image)
        note = ProcessBackend.note if name == "process" else ""
    return _spec(name, _image(name, image), max_uses, packages, log), note


def _auto(image: str | None) -> tuple[str, str]:
    """The backend `auto` picks here, and the note that says why."""
    from sandboxes.process import ProcessBackend

    found = availability(image)
    if found.docker is None:
        return "docker", ""
    if found.bwrap is None:
        return "bwrap", f"auto chose bwrap because docker is unavailable: {found.docker}"
    return "process", f"auto found no isolating backend (docker: {found.docker}; bwrap: {found.bwrap}). {ProcessBackend.note}"


def _spec(name: str, image: str | None, max_uses: int | None, packages: tuple[str, ...], log) -> BackendSpec:
    from sandboxes import packages as sandbox_packages
    from sandboxes.worker import BackendSpec

    folder = None
    if packages and name == "docker":
        from sandboxes.container import docker_client

        client = docker_client()
        try:
            image = sandbox_packages.packaged_image(client, image, packages, log)
        finally:
            client.close()
    elif packages:
        folder = str(sandbox_packages.prepare(packages, log=log))
    return BackendSpec(name, image, None if name == "process" else max_uses, folder)


def _image(name: str, image: str | None) -> str | None:
    """The docker tag, resolved here: workers do not see this process's environment."""
    from sandboxes.image import default_image

    return (image or default_image()) if name == "docker" else None
