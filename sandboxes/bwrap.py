"""The bubblewrap backend: a warm sandbox in fresh namespaces that sees only what a job needs.

Every namespace is unshared (no network, own pids, own /proc, own IPC, own hostname, uid 65534
in a user namespace with no capabilities); the filesystem is an empty root with read-only binds
of the interpreter and of the candidate's side of the project (sandboxes.candidate_side: the call
server and helper views; no evaluator, workload or scorer), a read-only /dev with private
/dev/shm and /dev/mqueue, and a private /tmp. No problem folder is bound: the candidate never
reads the evaluator's code or data. The pool server runs as pid 1 (`--as-pid-1`), so jobs cannot signal it. As root,
a cgroup bounds the whole sandbox's memory and process count and reports OOM kills. The sandbox
dies with the trusted worker that owns it.

Not protected: the kernel is shared (a kernel exploit escapes), and without root (no cgroup)
memory is bounded per process, so a job's /tmp (a tmpfs) can grow.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sandboxes import candidate_side
from sandboxes.base import Limits
from sandboxes.box import ControlLink, PoolBox
from sandboxes.cgroups import JobCgroup
from sandboxes.errors import BoxBroken, SandboxUnavailable
from sandboxes.process import capped, scrubbed_env

WORK = "/tmp/work"
SANDBOX_UID = 65534
SERVER = ("-s", "-P", "-m", "sandboxes.pool_server")
# Holds bwrap until the host has set its rlimits and cgroup: `read` takes one line from stdin.
HOLD = 'read -r _ && exec "$0" "$@"'
PROJECT_PACKAGES = ("evolve", "evaluators", "sandboxes")
CANDIDATE_IMPORTS = ("numpy", "msgpack")
ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
SERVER_MB = 96  # the server, its imports and the scratch tmpfs's bookkeeping, on top of the job
SERVER_PIDS = 8
READY_SECONDS = 30.0
KILL_SECONDS = 2.0
DEFAULT_MAX_USES = 50
MB = 1024 * 1024


class BwrapBackend:
    """Opens boxes: one bwrap sandbox each, running the pool server. max_uses=1 is the cold path."""

    name = "bwrap"

    def __init__(self, python: str = sys.executable, bwrap: str | None = None, use_cgroups: bool = True,
                 max_uses: int = DEFAULT_MAX_USES, note: str = "", packages: str | None = None):  # fmt: skip
        found = bwrap or shutil.which("bwrap")
        if not found:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
        self._bwrap, self._python, self._packages = found, python, packages
        self._use_cgroups = use_cgroups and os.geteuid() == 0
        self.max_uses = max_uses
        limits_note = "" if self._use_cgroups else "no cgroup (not root): memory is bounded per process only"
        self.note = "; ".join(n for n in (note, limits_note) if n)

    def argv(self) -> list[str]:
        """bwrap's command line up to (not including) the program (public for `evolve sandbox check`)."""
        args = [
            self._bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--as-pid-1", "--hostname", "sandbox",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--mqueue", "/dev/mqueue", "--remount-ro", "/dev",
            "--tmpfs", "/tmp", "--dir", WORK, "--chdir", WORK, "--clearenv",
        ]  # fmt: skip
        for link in ROOT_LINKS:
            if os.path.islink(link):
                args += ["--symlink", os.readlink(link), link]
            elif os.path.isdir(link):
                args += ["--ro-bind", link, link]
        binds = _read_only_binds(self._python)
        for source, dest in binds:
            args += ["--ro-bind", source, dest]
        for folder in _hidden_packages(binds):
            args += ["--tmpfs", folder]
        root = candidate_side.code_root()
        for name in candidate_side.files():
            args += ["--ro-bind", str(root / name), str(root / name)]
        if self._packages:
            args += ["--ro-bind", self._packages, self._packages]
        env = scrubbed_env(WORK)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (self._packages, str(candidate_side.code_root())) if p)
        for key, value in env.items():
            args += ["--setenv", key, value]
        return [*args, "--remount-ro", "/"]  # the sandbox's own root tmpfs too: only /tmp is writable

    def open(self, limits: Limits) -> PoolBox:
        """Start a sandbox sized for `limits`, its pool server ready; SandboxUnavailable if it cannot."""
        cgroup = None
        if self._use_cgroups:
            cgroup = JobCgroup.create((limits.memory_mb + SERVER_MB) * MB, limits.max_processes + SERVER_PIDS)
        ours, theirs = socket.socketpair()
        command = [*self.argv(), "--", self._python, *SERVER, "--fd", str(theirs.fileno())]
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", HOLD, *command], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, start_new_session=True,
                cwd="/", pass_fds=(theirs.fileno(),),
            )  # fmt: skip
        except OSError as exc:
            ours.close()
            _dispose(cgroup)
            raise SandboxUnavailable(f"cannot start bwrap: {exc}") from exc
        finally:
            theirs.close()
        launcher = _Launcher(proc, cgroup)
        box = PoolBox(launcher, ControlLink(ours), require_seccomp=True)
        try:
            _limit(proc.pid, limits)
            if cgroup is not None:
                cgroup.add(proc.pid)
            proc.stdin.write(b"go\n")
            proc.stdin.close()
            box.link.expect("ready", READY_SECONDS)
        except (OSError, BoxBroken) as exc:
            stderr = launcher.stderr()
            box.close()
            raise SandboxUnavailable(f"the bwrap sandbox did not start: {exc} {stderr[-500:]}") from exc
        return box


@dataclass
class _Launcher:
    proc: subprocess.Popen
    cgroup: JobCgroup | None

    def oom_kills(self) -> int:
        return self.cgroup.oom_kills() if self.cgroup is not None else 0

    def stderr(self) -> str:
        """bwrap's own complaints, once it has exited (never blocks on a live sandbox)."""
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read(8000).decode("utf-8", "replace")

    def destroy(self) -> None:
        """Kill bwrap's process group and the cgroup for sure; never raises."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _dispose(self.cgroup)
        try:
            self.proc.wait(KILL_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def bwrap_works(bwrap: str | None = None) -> str | None:
    """None when bwrap can build this backend's namespaces here, else why not."""
    found = bwrap or shutil.which("bwrap")
    if not found:
        return "bubblewrap (bwrap) is not installed"
    argv = [found, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--ro-bind", "/", "/", "true"]
    try:
        result = subprocess.run(argv, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to run: {exc}"
    if result.returncode != 0:
        return f"bwrap cannot create namespaces here: {result.stderr.decode(errors='replace').strip()[:200]}"
    return None


def _limit(pid: int, limits: Limits) -> None:
    """No core files, and a process count (RLIMIT_NPROC counts the uid's other processes too: room for them)."""
    resource.prlimit(pid, resource.RLIMIT_CORE, (0, 0))
    nproc = limits.max_processes + 64
    resource.prlimit(pid, resource.RLIMIT_NPROC, capped((nproc, nproc), resource.prlimit(pid, resource.RLIMIT_NPROC)[1]))


def _dispose(cgroup: JobCgroup | None) -> None:
    if cgroup is not None:
        cgroup.kill_all()
        cgroup.remove()


def _candidate_needs() -> set[str]:
    """The folders holding what the candidate's server imports (numpy, msgpack), wherever this
    Python finds them (a user site, a path file), not only under its prefixes."""
    found = set()
    for name in CANDIDATE_IMPORTS:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            found.add(str(Path(next(iter(spec.submodule_search_locations))).resolve().parent))
    return found


def _hidden_packages(binds: list[tuple[str, str]]) -> list[str]:
    """Installed from a wheel, the project's packages sit in a bound site-packages folder: each is
    covered by an empty tmpfs (no evaluator, workload or scorer to import), and only the
    candidate-side files are bound back on top."""
    root = candidate_side.code_root()
    inside = any(Path(p) == root or Path(p) in root.parents for pair in binds for p in pair)
    return [str(root / name) for name in PROJECT_PACKAGES if inside and (root / name).is_dir()]


def _read_only_binds(python: str) -> list[tuple[str, str]]:
    """(source, destination) pairs: the interpreter's prefixes, each at its own path and at its
    resolved path (symlinked folders), nested repeats dropped."""
    wanted = {"/usr", sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *_candidate_needs()}
    wanted.add(str(Path(python).resolve().parent.parent))
    if os.path.exists("/etc/ld.so.cache"):
        wanted.add("/etc/ld.so.cache")
    found = [p for p in wanted if p and os.path.exists(p)]
    paths = sorted({os.path.abspath(p) for p in found} | {os.path.realpath(p) for p in found})
    kept: list[str] = []
    for path in paths:  # sorted: a parent comes before its children
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return [(os.path.realpath(p), p) for p in kept]
