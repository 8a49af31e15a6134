"""A memory + pids (+ CPU) cgroup per sandbox, for the bwrap backend when running as root.

rlimits bound one process; a cgroup bounds the whole job (every child, tmpfs pages included)
and tells an out-of-memory kill apart from any other SIGKILL. cgroup v2 (unified) and v1 (the
memory and pids hierarchies) are both handled; anything that does not work returns None and
the backend falls back to rlimits alone.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
KILL_SECONDS = 2.0


@dataclass
class JobCgroup:
    """The job's cgroup directories (one for v2; memory and pids for v1)."""

    dirs: tuple[Path, ...]
    version: int

    @classmethod
    def create(cls, memory_bytes: int, max_pids: int, root: Path = ROOT) -> "JobCgroup | None":
        """A fresh cgroup with the limits set, or None when cgroups are not ours to manage."""
        if os.geteuid() != 0:
            return None
        name = f"evolve-{os.getpid()}/job-{secrets.token_hex(6)}"
        try:
            if (root / "cgroup.controllers").exists():
                return _create_v2(root, name, memory_bytes, max_pids)
            if (root / "memory" / "memory.limit_in_bytes").exists():
                return _create_v1(root, name, memory_bytes, max_pids)
        except OSError:
            return None
        return None

    def add(self, pid: int) -> None:
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(pid))

    def pids(self) -> set[int]:
        found: set[int] = set()
        for d in self.dirs:
            try:
                found.update(int(p) for p in (d / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return found

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer took in this cgroup."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            text = (self.dirs[0] / name).read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def kill_all(self) -> None:
        """SIGKILL everything in the cgroup, again until it is empty (forks may race the first pass)."""
        kill_file = self.dirs[0] / "cgroup.kill"
        deadline = time.monotonic() + KILL_SECONDS
        while (pids := self.pids()) and time.monotonic() < deadline:
            if self.version == 2 and kill_file.exists():
                try:
                    kill_file.write_text("1")
                except OSError:
                    pass
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.005)

    def remove(self) -> None:
        """Remove the job's directories (retrying while the last processes are reaped)."""
        deadline = time.monotonic() + KILL_SECONDS
        for d in self.dirs:
            while d.exists():
                try:
                    d.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.01)
            try:
                d.parent.rmdir()  # the per-host-process folder, once no job uses it
            except OSError:
                pass


def _own_path(controller: str) -> str:
    """This process's cgroup path in a hierarchy ('' for v2), from /proc/self/cgroup."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if names.split(",") == [controller] or (controller == "" and names == ""):
            return path.lstrip("/")
    return ""


CPUS = 1.0  # a sandbox gets one core's worth of CPU time, as a docker container does
PERIOD_US = 100_000


def _create_v1(root: Path, name: str, memory_bytes: int, max_pids: int) -> JobCgroup:
    memory = root / "memory" / _own_path("memory") / name
    memory.mkdir(parents=True)
    (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
    memsw = memory / "memory.memsw.limit_in_bytes"
    if memsw.exists():
        memsw.write_text(str(memory_bytes))  # no swap either
    dirs = [memory]
    pids_root = root / "pids"
    if (pids_root / "cgroup.procs").exists():
        pids = pids_root / _own_path("pids") / name
        pids.mkdir(parents=True)
        (pids / "pids.max").write_text(str(max_pids))
        dirs.append(pids)
    cpu_root = root / "cpu"
    if (cpu_root / "cpu.cfs_quota_us").exists():
        cpu = cpu_root / _own_path("cpu") / name
        cpu.mkdir(parents=True)
        (cpu / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(int(CPUS * PERIOD_US)))
        dirs.append(cpu)
    return JobCgroup(tuple(dirs), 1)


def _create_v2(root: Path, name: str, memory_bytes: int, max_pids: int) -> JobCgroup:
    """Under the hierarchy's root: a cgroup holding processes cannot delegate controllers."""
    parent = root / name.split("/")[0]
    for where in (root, parent):
        where.mkdir(exist_ok=True)
        enabled = (where / "cgroup.subtree_control").read_text().split()
        available = (where / "cgroup.controllers").read_text().split()
        missing = [f"+{c}" for c in ("memory", "pids", "cpu") if c not in enabled and (c != "cpu" or c in available)]
        if missing:
            (where / "cgroup.subtree_control").write_text(" ".join(missing))
    job = root / name
    job.mkdir()
    (job / "memory.max").write_text(str(memory_bytes))
    if (job / "memory.swap.max").exists():
        (job / "memory.swap.max").write_text("0")
    (job / "pids.max").write_text(str(max_pids))
    if (job / "cpu.max").exists():
        (job / "cpu.max").write_text(f"{int(CPUS * PERIOD_US)} {PERIOD_US}")
    return JobCgroup((job,), 2)
