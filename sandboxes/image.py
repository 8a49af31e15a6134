"""The docker backend's image: build it from sandboxes/Dockerfile, and tell whether it is current.

The image carries a copy of the `evaluators` and `sandboxes` packages, so it is labelled with a
hash of their sources: a checkout whose trusted code changed since the build is told to rebuild
instead of silently scoring with old code.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import evaluators
import sandboxes
from sandboxes.errors import SandboxUnavailable

DEFAULT_IMAGE = "evolve-sandbox:latest"
IMAGE_ENV = "EVOLVE_SANDBOX_IMAGE"  # another tag, e.g. one per checkout, so two checkouts never fight over one


def default_image() -> str:
    return os.environ.get(IMAGE_ENV) or DEFAULT_IMAGE
DEFAULT_BASE_IMAGE = "python:3.11-slim"
HASH_LABEL = "evolve.source-hash"
DOCKERFILE = Path(sandboxes.__file__).parent / "Dockerfile"
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")


def _packages() -> list[Path]:
    return [Path(evaluators.__file__).parent, Path(sandboxes.__file__).parent]


def source_hash() -> str:
    """sha256 over the Dockerfile and every .py file of the two packages the image carries."""
    digest = hashlib.sha256()
    for package in _packages():
        for path in sorted(package.rglob("*")):
            if path.is_file() and (path.suffix == ".py" or path.name == "Dockerfile") and "__pycache__" not in path.parts:
                digest.update(f"{package.name}/{path.relative_to(package)}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class ImageStatus:
    state: str  # "ok", "missing" or "stale"
    detail: str = ""


def image_status(client, tag: str | None = None) -> ImageStatus:
    import docker.errors

    tag = tag or default_image()
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return ImageStatus("missing", f"image {tag} is not built (run: evolve sandbox build)")
    if (image.labels or {}).get(HASH_LABEL) != source_hash():
        return ImageStatus("stale", f"image {tag} was built from other evaluator/sandbox sources (run: evolve sandbox build)")
    return ImageStatus("ok")


def build_image(client, tag: str | None = None, base_image: str = DEFAULT_BASE_IMAGE, log=None) -> str:
    """Build the image from a context holding only the Dockerfile and the two packages; its id."""
    import docker.errors

    tag = tag or default_image()
    with tempfile.TemporaryDirectory(prefix="evolve-image-") as context:
        root = Path(context)
        shutil.copy(DOCKERFILE, root / "Dockerfile")
        for package in _packages():
            shutil.copytree(package, root / package.name, ignore=_SKIP)
        try:
            image, lines = client.images.build(
                path=str(root),
                tag=tag,
                buildargs={"BASE_IMAGE": base_image},
                labels={HASH_LABEL: source_hash()},
                rm=True,
                forcerm=True,
                pull=False,
            )
        except docker.errors.BuildError as exc:
            tail = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in exc.build_log)[-1500:]
            raise SandboxUnavailable(f"building {tag} from {base_image} failed: {exc.msg}\n{tail}") from exc
        except docker.errors.APIError as exc:
            raise SandboxUnavailable(f"building {tag} from {base_image} failed: {exc.explanation or exc}") from exc
        if log is not None:
            for chunk in lines:
                if "stream" in chunk:
                    log(chunk["stream"].rstrip("\n"))
        return image.id
