"""`evolve sandbox build|check`: the sandbox command group, composed into the main app by evolve.cli.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sandboxes.check import check_backends
from sandboxes.container import docker_client
from sandboxes.image import DEFAULT_BASE_IMAGE, IMAGE_ENV, build_image, default_image

sandbox_app = typer.Typer(help="Build the docker sandbox image; check which sandbox backends work here.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _console() -> Console:
    return Console(highlight=False)


@sandbox_app.command("build")
def sandbox_build(
    base_image: Annotated[str, typer.Option(help="Base image with python3 >= 3.11 (numpy is pip-installed if missing).")] = DEFAULT_BASE_IMAGE,
    tag: Annotated[str | None, typer.Option(help=f"Name of the image to build (default: ${IMAGE_ENV} or evolve-sandbox:latest).")] = None,
) -> None:
    """Build the docker backend's image from sandboxes/Dockerfile."""
    console = _console()
    tag = tag or default_image()
    console.print(f"building {tag} from {base_image} ...")
    image_id = build_image(docker_client(), tag=tag, base_image=base_image, log=lambda line: line and console.print(f"  {line}", markup=False))
    console.print(f"built {tag} ({image_id[:19]}); use it with: evolve run PROBLEM --sandbox docker")


@sandbox_app.command("check")
def sandbox_check(
    jobs: Annotated[int, typer.Option(min=1, max=1000, help="Probe jobs per backend.")] = 10,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Jobs in flight for the throughput figure.")] = 2,
    as_json: JsonFlag = False,
) -> None:
    """Say which sandbox backends work here and what each adds per evaluation."""
    checks = asyncio.run(check_backends(jobs, workers))
    rows = [
        {
            "backend": c.name,
            "works": c.problem is None,
            "problem": c.problem,
            "note": c.note,
            "overhead_ms_p50": None if c.timing is None else round(c.overhead_ms(0.5), 1),
            "overhead_ms_p95": None if c.timing is None else round(c.overhead_ms(0.95), 1),
            "jobs_per_second": None if c.timing is None else round(c.timing.throughput, 1),
        }
        for c in checks
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title=f"sandbox backends ({jobs} probe jobs each; overhead over in-process)")
    for col in ("backend", "works", "overhead p50 ms", "p95 ms", f"jobs/s ({workers} workers)", "note"):
        table.add_column(col)
    for r in rows:
        ms = [("-" if r[k] is None else f"{r[k]:.1f}") for k in ("overhead_ms_p50", "overhead_ms_p95", "jobs_per_second")]
        table.add_row(r["backend"], "yes" if r["works"] else "no", *ms, (r["problem"] or r["note"] or "")[:90])
    _console().print(table)
