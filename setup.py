"""The shipped problems and prompt templates live at the repository's top (DESIGN.md's layout) but
must travel in the wheel: they are mapped in as package data under evolve/_shipped, where
evolve.resources finds them. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

SHIPPED = {"evolve._shipped.problems": "problems", "evolve._shipped.prompts": "prompts"}

setup(
    packages=find_packages(include=["evolve*", "evaluators*", "sandboxes*"]) + list(SHIPPED),
    package_dir=SHIPPED,
)
