"""The warm container's main process: runs jobs one at a time, each in a forked, limited child.

Started (under the container's init, or bwrap's) as `python3 -s -P -m sandboxes.pool_server`. It imports the
runner and numpy once, so a job costs a fork instead of an interpreter start. The host speaks
over the container's attached stdin/stdout:

    host -> server:  {"nonce", "size", "limits": {...}}\\n  then `size` bytes of the encoded job
    server -> host:  EVOLVE-POOL-READY\\n  once, then per job
                     EVOLVE-POOL <nonce> <length>\\n  then a JSON body of `length` bytes:
                     {"stdout" (base64 of the runner's stdout), "stderr", "returncode", "stop",
                      "oom", "clean", "elapsed"}

The child gets fresh pipes for 0/1/2 and no other descriptor, its own session, rlimits and the
highest OOM score, then runs `sandboxes.runner.main()`. After each job every other process in
the container is killed and /tmp and /dev/shm are emptied; `clean` says whether anything had to
be killed or could not be removed, and the host then retires the container. The server makes
itself non-dumpable, so a candidate (same uid) cannot read its memory or descriptors via /proc.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import resource
import select
import shutil
import signal
import sys
import time
import traceback

READY = b"EVOLVE-POOL-READY\n"
REPLY_TAG = "EVOLVE-POOL"
WORK = "/tmp/work"
SCRATCH = ("/tmp", "/dev/shm")
END_GRACE_SECONDS = 1.0
DRAIN_SECONDS = 1.0
SWEEP_ROUNDS = 200
MB = 1024 * 1024
OPEN_FILES = 256
PR_SET_DUMPABLE = 4
ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": WORK,
    "TMPDIR": WORK,
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def main(argv: list[str] | None = None) -> int:
    """`--fd N`: talk over the socket on descriptor N instead of stdin/stdout (the bwrap backend's
    channel, which bwrap's own init does not hold, so a job cannot reach it through /proc/1/fd)."""
    argv = sys.argv[1:] if argv is None else argv
    _set_dumpable(0)
    _preload()
    inp, out = (int(argv[1]),) * 2 if argv[:1] == ["--fd"] else (os.dup(0), os.dup(1))
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    reader = _LineReader(inp)
    _write(out, READY)
    while True:
        header = reader.line()
        if header is None:
            return 0
        request = json.loads(header)
        payload = reader.exact(int(request["size"]))
        reply = run_job(payload, request["limits"])
        body = json.dumps(reply).encode()
        _write(out, f"{REPLY_TAG} {request['nonce']} {len(body)}\n".encode() + body)


def run_job(payload: bytes, limits: dict) -> dict:
    started = time.monotonic()
    clean = _clear_scratch()
    os.makedirs(WORK, exist_ok=True)
    oom_before = _oom_kills()
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    stderr_r, stderr_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        _child(stdin_r, stdout_w, stderr_w, limits)
    for fd in (stdin_r, stdout_w, stderr_w):
        os.close(fd)
    job = _Job(pid, stdin_w, stdout_r, stderr_r, payload, limits)
    stop = job.supervise(started + float(limits["wall_seconds"]))
    _kill_group(pid)
    returncode = _wait(pid)
    clean = _sweep() and clean
    job.drain()
    clean = _clear_scratch() and clean and not _ipc_left()
    return {
        "stdout": base64.b64encode(bytes(job.stdout)).decode(),
        "stderr": bytes(job.stderr[-int(limits["stderr_tail_bytes"]) :]).decode("utf-8", "replace"),
        "returncode": returncode,
        "stop": stop,
        "oom": _oom_kills() > oom_before,
        "clean": clean,
        "elapsed": time.monotonic() - started,
    }


class _Job:
    """The host's supervise loop, in miniature: feed the job, collect output, watch the clock."""

    def __init__(self, pid: int, stdin_w: int, stdout_r: int, stderr_r: int, payload: bytes, limits: dict):
        self.pid, self.limits = pid, limits
        self.pidfd = os.pidfd_open(pid)
        self.stdin_w, self.stdout_r, self.stderr_r = stdin_w, stdout_r, stderr_r
        self.pending = memoryview(payload)
        self.stdout, self.stderr = bytearray(), bytearray()
        self.marker = None
        self.open = {stdout_r, stderr_r}
        os.set_blocking(stdin_w, False)

    def supervise(self, deadline: float) -> str | None:
        nonce = json.loads(bytes(self.pending))["nonce"]
        marker = f"\n@@EVOLVE-END {nonce}\n".encode()
        limit = int(self.limits["max_output_bytes"])
        exited = False
        ended_at = None
        while not exited:
            now = time.monotonic()
            if now >= deadline:
                return "timeout"
            if ended_at is not None and now - ended_at > END_GRACE_SECONDS:
                return None
            writers = [self.stdin_w] if self.pending is not None else []
            readable, writable, _ = select.select([self.pidfd, *self.open], writers, [], min(deadline - now, 0.5))
            if writable:
                self._feed()
            for fd in readable:
                if fd == self.pidfd:
                    exited = True
                    continue
                chunk = self._read(fd)
                if fd == self.stdout_r and ended_at is None and chunk:
                    start = max(0, len(self.stdout) - len(marker))
                    self.stdout += chunk
                    if self.stdout.find(marker, start) >= 0:
                        ended_at = time.monotonic()
                    elif len(self.stdout) > limit:
                        del self.stdout[limit:]
                        return "output_limit"
        return None

    def drain(self) -> None:
        """After the kill: the rest of the output, until every writer is gone (bounded in time)."""
        self._close_stdin()
        deadline = time.monotonic() + DRAIN_SECONDS
        while self.open and time.monotonic() < deadline:
            readable, _, _ = select.select(list(self.open), [], [], 0.05)
            for fd in readable:
                self._read(fd, keep=fd == self.stderr_r)
        for fd in list(self.open) + [self.pidfd]:
            os.close(fd)
        self.open.clear()

    def _feed(self) -> None:
        try:
            written = os.write(self.stdin_w, self.pending[: 1 << 16])
        except BlockingIOError:
            return
        except BrokenPipeError:  # the runner died before reading its job; its exit status tells why
            written = len(self.pending)
        self.pending = self.pending[written:]
        if not self.pending:
            self._close_stdin()

    def _close_stdin(self) -> None:
        if self.pending is not None:
            os.close(self.stdin_w)
            self.pending = None

    def _read(self, fd: int, keep: bool = True) -> bytes:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            self.open.discard(fd)
        elif fd == self.stderr_r:
            self.stderr += chunk
            if len(self.stderr) > 2 * int(self.limits["stderr_tail_bytes"]):
                del self.stderr[: len(self.stderr) - int(self.limits["stderr_tail_bytes"])]
        return chunk


def _child(stdin_r: int, stdout_w: int, stderr_w: int, limits: dict) -> None:
    """In the fork: become the runner. Never returns."""
    code = 70
    try:
        os.setsid()
        for target, fd in ((0, stdin_r), (1, stdout_w), (2, stderr_w)):
            os.dup2(fd, target)
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        _set_limits(limits)
        _set_dumpable(1)  # the server is not; the job's /proc/self must be its own
        with open("/proc/self/oom_score_adj", "w") as handle:  # the OOM killer takes the job, not the server
            handle.write("1000")
        os.chdir(WORK)
        os.environ.clear()
        os.environ.update(ENV)
        from sandboxes import runner

        code = runner.main()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # the runner catches the candidate's errors; this is for its own
        code = 70
        try:
            os.write(2, f"pool server: job set-up failed: {traceback.format_exc()[-1500:]}".encode())
        except BaseException:
            pass
    os._exit(code)


def _set_limits(limits: dict) -> None:
    memory = int(limits["memory_mb"]) * MB
    cpu = int(limits["cpu_seconds"])
    files = int(limits["max_file_mb"]) * MB
    for which, value in (
        (resource.RLIMIT_AS, (memory, memory)),
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_FSIZE, (files, files)),
        (resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES)),
        (resource.RLIMIT_CORE, (0, 0)),
    ):
        resource.setrlimit(which, value)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _wait(pid: int) -> int | None:
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status)


def _sweep() -> bool:
    """Kill every process but init and this server; True when there was nothing to kill."""
    spared = {1, os.getpid()}
    nothing = True
    for _ in range(SWEEP_ROUNDS):
        others = [pid for pid in _live_pids() if pid not in spared]
        if not others:
            return nothing
        nothing = False
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.005)
    return False


def _live_pids() -> list[int]:
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


def _clear_scratch() -> bool:
    """Empty /tmp and /dev/shm (sparing bind mounts in them, and the folders leading to those);
    False when something could not be removed."""
    kept = _mount_points()
    return all([_clear(root, kept) for root in SCRATCH])


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
    """Mounts below the scratch folders (bwrap binds a problem folder under /tmp at its own path)."""
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
    """A candidate may have made its folders read-only; they are its own, so undo that and retry."""
    os.chmod(os.path.dirname(path), 0o700)
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)
    func(path)


def _ipc_left() -> bool:
    """System V IPC objects outlive processes; a container that has any is retired."""
    for kind in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{kind}") as handle:
                if len(handle.read().splitlines()) > 1:
                    return True
        except OSError:
            pass
    return False


def _oom_kills() -> int:
    for path, key in (("/sys/fs/cgroup/memory.events", "oom_kill"), ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill")):
        try:
            with open(path) as handle:
                for line in handle:
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        except (OSError, ValueError):
            continue
    return 0


def _set_dumpable(value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _preload() -> None:
    """What evaluators commonly need, imported once so each forked job starts warm."""
    import sandboxes.runner  # noqa: F401

    try:
        import numpy  # noqa: F401
    except ImportError:
        pass


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _LineReader:
    """Blocking reads of a header line and an exact number of bytes from a raw descriptor."""

    def __init__(self, fd: int):
        self.fd, self.buffer = fd, bytearray()

    def _more(self) -> bool:
        chunk = os.read(self.fd, 1 << 16)
        self.buffer += chunk
        return bool(chunk)

    def line(self) -> bytes | None:
        while (end := self.buffer.find(b"\n")) < 0:
            if not self._more():
                return None
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        return line

    def exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._more():
                raise EOFError("job cut short")
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


if __name__ == "__main__":
    raise SystemExit(main())
