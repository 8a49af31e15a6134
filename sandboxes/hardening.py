"""Process-level hardening shared by the trusted side and the sandbox's pool server.

Non-dumpable: a process of the same user can then neither read this process's memory or
environment nor open its descriptors through /proc, nor ptrace it (without CAP_SYS_PTRACE).
"""

from __future__ import annotations

import ctypes

PR_SET_DUMPABLE = 4


def set_dumpable(value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def not_dumpable() -> None:
    set_dumpable(0)

