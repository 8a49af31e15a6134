"""A warm sandbox's main process: forks one candidate job at a time and cleans up after it.

Started inside the sandbox (docker or bwrap) as pid 1 of its pid namespace, so a job can neither
signal it nor, since it makes itself non-dumpable, open its descriptors through /proc. It imports
numpy and the candidate server once, so a job costs a fork instead of an interpreter start.

The host speaks over a control socket that only this process holds (`--fd N`: inherited;
`--connect PATH`: a unix socket the host listens on, and unlinks once connected). Each message
is one JSON line; a job's channel arrives as a descriptor attached to its start line (SCM_RIGHTS),
so the trusted evaluator on the host talks to the job directly, and no job ever sees the control
socket:

    server -> host:  {"op": "ready"}
    host -> server:  {"op": "start", "limits": {...}}  + the job's channel descriptor
    server -> host:  {"op": "started"}
    host -> server:  {"op": "end"}                      (the host is done; kill the job now)
    server -> host:  {"op": "ended", "returncode", "stop", "oom", "clean", "stderr", "elapsed"}

"ended" also comes unasked when the job exits or runs out of time. After every job, every other
process in the sandbox is killed and reaped, /tmp, /dev/shm and /dev/mqueue are emptied, and
`clean` is False when anything could not be removed or a System V IPC object, an abstract unix
socket or a new kernel key is left, or when a job changed this server's rlimits, nice value, scheduling
policy or CPU affinity (which every later job would inherit): the host then retires the sandbox.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import socket
import sys
import time
import traceback

from sandboxes import hardening, scratch, seccomp

WORK = "/tmp/work"
END_GRACE_SECONDS = 0.5
SWEEP_ROUNDS = 200
MB = 1024 * 1024
OPEN_FILES = 256
JOB_CHANNEL_FD = 3
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
    argv = sys.argv[1:] if argv is None else argv
    hardening.set_dumpable(0)
    control = _control_socket(argv)
    _preload()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    link = _Link(control)
    link.send({"op": "ready"})
    keys = (scratch.kernel_keys(), scratch.inherited())
    while True:
        message = link.receive()
        if message is None:
            return 0
        if message.get("op") != "start" or len(link.fds) != 1:
            link.send({"op": "error", "detail": f"expected a start with one descriptor, got {message.get('op')!r}"})
            for fd in link.fds:
                os.close(fd)
            link.fds.clear()
            continue
        channel = link.fds.pop()
        link.send(run_job(channel, message["limits"], link, keys))


def _control_socket(argv: list[str]) -> socket.socket:
    if argv[:1] == ["--fd"] and len(argv) == 2:
        return socket.socket(fileno=int(argv[1]))
    if argv[:1] == ["--connect"] and len(argv) == 2:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(100):
            try:
                sock.connect(argv[1])
                return sock
            except OSError:
                time.sleep(0.05)
        sock.connect(argv[1])
        return sock
    raise SystemExit("usage: python -m sandboxes.pool_server (--fd N | --connect PATH)")


class _Link:
    """JSON lines over the control socket, collecting any descriptors that come with them."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buffer, self.fds = sock, bytearray(), []

    def send(self, message: dict) -> None:
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def receive(self) -> dict | None:
        while (end := self.buffer.find(b"\n")) < 0:
            data, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, 4)
            self.fds.extend(fds)
            if not data:
                return None
            self.buffer += data
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        return json.loads(line)

    def readable(self) -> bool:
        return self.buffer.find(b"\n") >= 0


def run_job(channel: int, limits: dict, link: _Link, keys: tuple[frozenset[str], tuple]) -> dict:
    """Fork the job, supervise it, clean up; the report, sent once the host says "end"."""
    started = time.monotonic()
    clean = scratch.clear()
    os.makedirs(WORK, exist_ok=True)
    oom_before = _oom_kills()
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        _child(channel, out_w, limits)
    os.close(out_w)
    os.close(channel)  # only the job holds its channel now
    link.send({"op": "started"})
    stop, tail = _supervise(pid, out_r, link, started + float(limits["wall_seconds"]), int(limits["stderr_tail_bytes"]))
    _kill_group(pid)
    returncode = _wait(pid)
    clean = _sweep() and clean  # every process gone: the job's channel is closed for the host to see
    _drain(out_r, tail, int(limits["stderr_tail_bytes"]))
    clean = scratch.clear() and clean and scratch.nothing_left(*keys)
    report = {
        "op": "ended",
        "returncode": returncode,
        "stop": stop,
        "oom": _oom_kills() > oom_before,
        "clean": clean,
        "stderr": bytes(tail).decode("utf-8", "replace"),
        "elapsed": time.monotonic() - started,
    }
    if stop != "host":
        _await_end(link)
    return report


def _await_end(link: _Link) -> None:
    """The job ended on its own: the host learns of it from its channel, then asks for the report."""
    message = link.receive()
    if message is None:
        raise SystemExit(0)  # the host is gone
    if message.get("op") != "end":
        raise SystemExit(f"pool server: expected end, got {message.get('op')!r}")


def _supervise(pid: int, out_r: int, link: _Link, deadline: float, tail_bytes: int) -> tuple[str, bytearray]:
    """Until the host ends the job ("host"), it exits ("exit"), or time runs out ("timeout")."""
    pidfd = os.pidfd_open(pid)
    tail = bytearray()
    watched = [pidfd, out_r, link.sock]
    try:
        while True:
            if link.readable():
                _await_end(link)
                return "host", tail
            now = time.monotonic()
            if now >= deadline:
                return "timeout", tail
            readable, _, _ = select.select(watched, [], [], min(deadline - now, 1.0))
            if link.sock in readable:
                _await_end(link)
                return "host", tail
            if out_r in readable:
                chunk = os.read(out_r, 1 << 16)
                if not chunk:
                    watched.remove(out_r)
                tail += chunk
                del tail[: max(0, len(tail) - tail_bytes)]
            if pidfd in readable:
                return "exit", tail
    finally:
        os.close(pidfd)


def _drain(out_r: int, tail: bytearray, tail_bytes: int) -> None:
    """What the job wrote before it died (every writer is gone, so this ends), then close."""
    os.set_blocking(out_r, False)
    try:
        while chunk := os.read(out_r, 1 << 16):
            tail += chunk
            del tail[: max(0, len(tail) - tail_bytes)]
    except BlockingIOError:
        pass
    os.close(out_r)


def _child(channel: int, out_w: int, limits: dict) -> None:
    """In the fork: become the candidate's server. Never returns."""
    code = 70
    try:
        os.setsid()
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.dup2(channel, JOB_CHANNEL_FD)
        os.closerange(JOB_CHANNEL_FD + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        _set_limits(limits)
        refused = seccomp.deny_keyrings()
        if refused and limits.get("require_seccomp"):
            raise RuntimeError(f"cannot seal the job's kernel keyrings: {refused}")
        hardening.set_dumpable(1)  # the server is not; the job's /proc/self must be its own
        try:
            with open("/proc/self/oom_score_adj", "w") as handle:  # the OOM killer takes the job, not the server
                handle.write("1000")
        except OSError:
            pass
        os.chdir(WORK)
        os.environ.clear()
        os.environ.update(ENV)
        from sandboxes import candidate_server

        code = candidate_server.run(JOB_CHANNEL_FD)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # the candidate server catches the candidate's errors; this is for its own
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
    """Kill and reap every process but this server (and pid 1); True when there was nothing to kill."""
    spared = {1, os.getpid()}
    nothing = True
    for _ in range(SWEEP_ROUNDS):
        _reap()
        others = [pid for pid in scratch.live_pids() if pid not in spared]
        if not others:
            _reap_all()
            return nothing
        nothing = False
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.005)
    return False


def _reap_all() -> None:
    """Every process is dead: collect the last zombies, so the next job sees an empty table."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        _reap()
        if not any(pid not in (1, os.getpid()) for pid in scratch.all_pids()):
            return
        time.sleep(0.002)


def _reap() -> None:
    """As pid 1, orphans are ours to reap."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


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


def _preload() -> None:
    """What every job needs, imported once so each forked job starts warm."""
    import sandboxes.candidate_server  # noqa: F401

    try:
        import numpy  # noqa: F401
    except ImportError:
        pass


if __name__ == "__main__":
    raise SystemExit(main())
