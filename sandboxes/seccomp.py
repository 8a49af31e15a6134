"""Deny a job the system calls whose effects outlive it and cross sandboxes: kernel keyrings.

A key added to the user's keyring survives every process of the job and, for bwrap, even a new
sandbox (the keyring belongs to the host's user, not to the sandbox's namespaces), so one job
could leave what it saw for a later candidate. Docker's default seccomp profile already refuses
these calls; this filter, loaded in the job's process before any candidate code runs, refuses
them everywhere (EPERM). It uses libseccomp (Debian's libseccomp2, present wherever apt is).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno

DENIED = ("add_key", "keyctl", "request_key")
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO = 0x00050000


def deny_keyrings() -> str | None:
    """Load the filter into this process (and its future children); None, or why it could not."""
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        return f"libseccomp is not available ({exc})"
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    context = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not context:
        return "seccomp_init failed"
    try:
        for call in DENIED:
            number = lib.seccomp_syscall_resolve_name(call.encode())
            if number < 0 or lib.seccomp_rule_add(context, SCMP_ACT_ERRNO | errno.EPERM, number, 0) != 0:
                return f"cannot add a seccomp rule for {call}"
        if lib.seccomp_load(context) != 0:
            return f"seccomp_load failed (errno {ctypes.get_errno()})"
    finally:
        lib.seccomp_release(context)
    return None
