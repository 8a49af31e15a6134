"""What one job in a warm sandbox could leave for the next, found and removed by the pool server.

Files in /tmp, /dev/shm and /dev/mqueue (POSIX shared memory and message queues live there) are
removed. What cannot be removed from inside is only detected, and the host then retires the
sandbox: System V IPC objects, abstract unix sockets (they need a live holder, so after the
sweep there should be none), kernel keys added since the server started, and any change to what
the server passes on to every job it forks (its rlimits, nice value, scheduling policy and CPU
affinity: a job of the same uid may lower them with prlimit, setpriority, sched_setscheduler and
sched_setaffinity, and the server could not raise them back).
"""

from __future__ import annotations

import os
import resource
import shutil

SCRATCH = ("/tmp", "/dev/shm", "/dev/mqueue")


def clear() -> bool:
    """Empty the scratch folders (sparing bind mounts in them, and the folders leading to those);
    False when something could not be removed."""
    kept = _mount_points()
    return all([_clear(root, kept) for root in SCRATCH])


def nothing_left(keys_at_start: frozenset[str], inherited_at_start: tuple | None = None) -> bool:
    """No IPC object, abstract socket or new kernel key survives in the sandbox, and what the
    server's next fork would inherit is what it was at the start."""
    same = inherited_at_start is None or inherited() == inherited_at_start
    return same and not _sysv_ipc() and not _abstract_sockets() and kernel_keys() <= keys_at_start


def inherited() -> tuple:
    """What a forked job inherits from this process that another process of its uid can change."""
    limits = tuple(resource.getrlimit(getattr(resource, name)) for name in sorted(dir(resource)) if name.startswith("RLIMIT_"))
    return limits, os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0), frozenset(os.sched_getaffinity(0))


def live_pids() -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                state = handle.read().rpartition(b")")[2].split()[0]
        except (OSError, IndexError):
            continue
        if state not in (b"Z", b"X"):
            pids.append(int(name))
    return pids


def all_pids() -> list[int]:
    """Every process in the table, zombies included."""
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def kernel_keys() -> frozenset[str]:
    """Ids of the kernel keys this process can see (a keyring outlives the processes that fill it)."""
    try:
        with open("/proc/keys") as handle:
            return frozenset(line.split()[0] for line in handle if line.strip())
    except OSError:
        return frozenset()


def _clear(folder: str, kept: frozenset[str]) -> bool:
    try:
        names = os.listdir(folder)
    except OSError:
        return True
    clean = True
    for name in names:
        path = os.path.join(folder, name)
        if path in kept:
            continue
        if any(k.startswith(path + "/") for k in kept):
            clean = _clear(path, kept) and clean
            continue
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, onerror=_make_writable)
            else:
                os.unlink(path)
        except OSError:
            clean = False
        if os.path.lexists(path):
            clean = False
    return clean


def _mount_points() -> frozenset[str]:
    found = set()
    try:
        with open("/proc/self/mountinfo") as handle:
            for line in handle:
                point = line.split()[4].encode().decode("unicode_escape")  # octal escapes such as \040
                if any(point.startswith(root + "/") for root in SCRATCH):
                    found.add(point)
    except (OSError, IndexError):
        pass
    return frozenset(found)


def _make_writable(func, path, _exc) -> None:
    """A job may have made its folders read-only; they are its own, so undo that and retry."""
    os.chmod(os.path.dirname(path), 0o700)
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)
    func(path)


def _sysv_ipc() -> bool:
    for kind in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{kind}") as handle:
                if len(handle.read().splitlines()) > 1:
                    return True
        except OSError:
            pass
    return False


def _abstract_sockets() -> bool:
    try:
        with open("/proc/net/unix") as handle:
            return any(len(f) >= 8 and f[7].startswith("@") for f in (line.split() for line in list(handle)[1:]))
    except OSError:
        return False
