"""Where the shipped files are: package data in an installed wheel, else the checkout's top folders.

DESIGN.md keeps `problems/` and `prompts/` at the repository's top. A wheel carries them as
`evolve/_shipped/problems` and `evolve/_shipped/prompts` (setup.py maps them in), so
`pip install .` gives a tool that finds its problems and templates from any directory; a source
checkout and an editable install read them where they are.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SHIPPED = "_shipped"


def shipped(name: str) -> Path:
    """The shipped folder `name` ("problems" or "prompts")."""
    package = Path(str(files("evolve")))
    packaged = package / SHIPPED / name
    return packaged if packaged.is_dir() else package.parent / name
