"""Sandbox failures, translated at the seam (the CLI turns set-up failures into one `error:` line)."""

from __future__ import annotations


class SandboxUnavailable(RuntimeError):
    """A backend cannot run here: no engine, no image, no bubblewrap, no namespaces..."""


class BoxBroken(Exception):
    """A sandbox stopped answering as its server would: dead, killed, or out of step."""


class CandidateFailed(Exception):
    """The candidate's side did not answer a call with plain data.

    `kind` is a failure reason (sandboxes.base.FailureReason): crash (it raised, or its process
    ended), memory, timeout (no answer in time), invalid_output (malformed answers). Once raised,
    the candidate's session stays failed: the stage fails whatever the evaluator does next.
    """

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail = kind, detail
