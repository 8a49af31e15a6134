"""The docker backend's image: build it from sandboxes/Dockerfile, and tell whether it is current.

The image carries the candidate's side only (sandboxes.candidate_side: the call server and the
helper views; no evaluator, workload or scorer), labelled with a hash of those files: a checkout
whose candidate-side code changed since the build is told to rebuild instead of running old code.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from sandboxes import candidate_side
from sandboxes.errors import SandboxUnavailable

DEFAULT_IMAGE = "evolve-sandbox:latest"
IMAGE_ENV = "EVOLVE_SANDBOX_IMAGE"  # another tag, e.g. one per checkout, so two checkouts never fight over one


DEFAULT_BASE_IMAGE = "python:3.11-slim"
HASH_LABEL = "evolve.source-hash"
DOCKERFILE = Path(str(files("sandboxes"))) / "Dockerfile"  # package data: found in a wheel too


def default_image() -> str:
    return os.environ.get(IMAGE_ENV) or DEFAULT_IMAGE


def source_hash() -> str:
    """sha256 over the Dockerfile and every file the image carries."""
    digest = hashlib.sha256(DOCKERFILE.read_bytes())
    root = candidate_side.code_root()
    for name in candidate_side.files():
        digest.update(f"{name}\0".encode())
        digest.update((root / name).read_bytes())
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
        source = candidate_side.code_root()
        for name in candidate_side.files():
            (root / "code" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / name, root / "code" / name)
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
