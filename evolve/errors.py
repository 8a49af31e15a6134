"""The framework's exception tree. Lower layers' errors are translated into these at each seam."""

from __future__ import annotations


class EvolveError(Exception):
    """Base of every error the framework raises on purpose."""


class UserError(EvolveError):
    """A mistake in what the user gave us (path, option, file): one line, exit code 2."""


class ProblemError(UserError):
    """A problem folder is missing or malformed; the message names the file and the field."""


class RunNotFound(UserError):
    """No run of that name or path exists in the store."""


class ConfigError(UserError):
    """An option or run setting is out of range or inconsistent."""


class PatchError(EvolveError):
    """A proposed change could not be applied: unmatched SEARCH, edit outside EVOLVE-BLOCKs, no code.

    `reason` is a short machine-readable tag stored with the failed candidate.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class ProposerError(EvolveError):
    """A proposer failed to produce a child (provider down, budget gone...)."""
