"""Fresh copies of a candidate module, so no state survives from one scenario to the next.

A policy that kept module globals or class attributes across scenarios could remember the
availability it saw in one scenario and use it as look-ahead in the next one cut from the same
trace. Re-running the module's code (compiled once) per scenario costs tens of microseconds.
"""

from __future__ import annotations

from types import ModuleType


class FreshModule:
    """The sandbox runner always imports candidates from a file; a module built in memory (a
    library caller's, a test's) has no source to re-run and is handed back as it is."""

    def __init__(self, module: ModuleType):
        self._module = module
        self._code = None
        path = getattr(module, "__file__", None)
        if path:
            with open(path, encoding="utf-8") as handle:
                self._code = compile(handle.read(), path, "exec")
        self._name, self._path = module.__name__, path

    def load(self) -> ModuleType:
        if self._code is None:
            return self._module
        module = ModuleType(self._name)
        module.__file__ = self._path
        exec(self._code, module.__dict__)  # noqa: S102 - the candidate's own code, already imported once
        return module
