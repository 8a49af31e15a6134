"""Python packages a problem lets its candidates import in the sandbox (problem.toml [sandbox]).

The host installs them once per package set with its own pip (`pip install --target`, so its
indexes, proxies and certificates apply and the sandbox needs no network), into a cache folder
named by a hash of the set and the interpreter they are for. bwrap binds that folder read-only
and the process backend puts it on the candidate's path; the docker backend copies it into an
image derived from the sandbox image, tagged per package set (a shared tag is never
overwritten). The evaluator is not served by any of this: it runs on the host, in the host's
environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from sandboxes.errors import SandboxUnavailable

PACKAGES_LABEL = "evolve.packages"
BASE_LABEL = "evolve.base-image-id"
RECORD = "evolve-packages.json"
IMAGE_FOLDER = "/opt/evolve-packages"
PIP_SECONDS = 1800
Log = Callable[[str], None]


@dataclass(frozen=True)
class Interpreter:
    """The Python the candidate runs on: the packages must be built for it."""

    version: str  # "3.11"
    machine: str  # "x86_64"

    @classmethod
    def host(cls) -> "Interpreter":
        return cls(f"{sys.version_info.major}.{sys.version_info.minor}", platform.machine())


def cache_root() -> Path:
    base = os.environ.get("EVOLVE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "evolve")
    return Path(base) / "sandbox-packages"


def key(requirements: tuple[str, ...], python: Interpreter) -> str:
    text = json.dumps({"packages": sorted(requirements), "python": python.version, "machine": python.machine})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def prepare(requirements: tuple[str, ...], python: Interpreter | None = None, log: Log | None = None) -> Path:
    """The folder holding `requirements` for `python` (the host's by default), installed once."""
    python = python or Interpreter.host()
    folder = cache_root() / key(requirements, python)
    if (folder / RECORD).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    (log or (lambda _: None))(f"installing sandbox packages {' '.join(requirements)} for Python {python.version} into {folder} (once)")
    staging = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", dir=folder.parent))
    try:
        _pip_install(requirements, python, staging)
        (staging / RECORD).write_text(json.dumps({"packages": list(requirements), "python": python.version}) + "\n")
        try:
            os.rename(staging, folder)
        except OSError:  # another process finished the same set first
            if not (folder / RECORD).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _pip_install(requirements: tuple[str, ...], python: Interpreter, target: Path) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
               "--target", str(target), *requirements]  # fmt: skip
    if python != Interpreter.host():  # for another interpreter (a docker image's): wheels built for it only
        command += ["--only-binary=:all:", "--implementation", "cp", "--python-version", python.version,
                    "--platform", f"manylinux2014_{python.machine}", "--platform", f"manylinux_2_28_{python.machine}"]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"cannot install sandbox packages {list(requirements)}: {exc}") from exc
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])[-400:]
        raise SandboxUnavailable(f"cannot install sandbox packages {list(requirements)} (check [sandbox] packages): {tail}")


def packaged_image(client, base_tag: str, requirements: tuple[str, ...], log: Log | None = None) -> str:
    """An image derived from `base_tag` holding `requirements`: reused while it matches, else built."""
    import docker.errors

    base = client.images.get(base_tag)
    python = _image_interpreter(client, base_tag)
    repository, sep, tag = base_tag.rpartition(":")
    if not sep or "/" in tag:  # no tag given (a registry port is not a tag)
        repository, tag = base_tag, "latest"
    derived = f"{repository}:{tag}-pkgs-{key(requirements, python)}"
    try:
        found = client.images.get(derived)
        if (found.labels or {}).get(BASE_LABEL) == base.id:
            return derived
    except docker.errors.ImageNotFound:
        pass
    folder = prepare(requirements, python, log)
    (log or (lambda _: None))(f"building {derived} from {base_tag} with {' '.join(requirements)}")
    with tempfile.TemporaryDirectory(prefix="evolve-image-") as context:
        shutil.copy(Path(str(files("sandboxes"))) / "Dockerfile.packages", Path(context) / "Dockerfile")
        shutil.copytree(folder, Path(context) / "packages")
        labels = {BASE_LABEL: base.id, PACKAGES_LABEL: json.dumps(list(requirements))}
        try:
            client.images.build(path=context, tag=derived, buildargs={"SANDBOX_IMAGE": base_tag}, labels=labels,
                                rm=True, forcerm=True, pull=False)  # fmt: skip
        except (docker.errors.BuildError, docker.errors.APIError) as exc:
            raise SandboxUnavailable(f"building {derived} failed: {exc}") from exc
    return derived


def _image_interpreter(client, tag: str) -> Interpreter:
    script = "import platform, sys; print(f'{sys.version_info[0]}.{sys.version_info[1]} {platform.machine()}')"
    try:
        out = client.containers.run(tag, ["python3", "-c", script], network_mode="none", remove=True, entrypoint=[])
    except Exception as exc:  # docker's errors: the image cannot even run python
        raise SandboxUnavailable(f"cannot ask image {tag} for its Python: {exc}") from exc
    version, machine = out.decode().split()
    return Interpreter(version, machine)
