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


class StoreError(EvolveError):
    """The store refused a write (disk full, read-only, locked): what was committed before is intact."""


class PatchError(EvolveError):
    """A proposed change could not be applied: unmatched SEARCH, edit outside EVOLVE-BLOCKs, no code.

    `reason` is a short machine-readable tag stored with the failed candidate.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class ProposerError(EvolveError):
    """A proposer failed to produce a child (provider down, budget gone...)."""


class RunHalted(ProposerError):
    """The proposer cannot go on (a budget, the end of a replayed cassette): the run stops cleanly.

    Iterations before the refused one still finish and commit; `resume` continues from it.
    """


class BudgetExhausted(RunHalted):
    """The next call could exceed a cost or token budget: the run stops cleanly before making it."""


class ReplayExhausted(RunHalted):
    """The cassette has no answer for this call: the replay diverged from the recording or ran past it."""


class ProviderError(ProposerError):
    """One LLM call failed. `kind` is a short tag; `retryable` says whether another attempt may work.

    Kinds: rate_limited, server_error, connection, timeout, bad_response, auth, bad_request,
    not_found. `retry_after` is the server's requested wait in seconds, when it sent one.
    """

    RETRYABLE = frozenset({"rate_limited", "server_error", "connection", "timeout", "bad_response"})

    def __init__(self, kind: str, message: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.kind in self.RETRYABLE
