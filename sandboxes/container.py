"""The docker backend: hardened containers running the pool server, one per trusted worker.

A container has no network, a read-only root, no capabilities, no new privileges, Docker's default
seccomp profile (no kernel keyrings), cgroup limits on memory, processes and CPU, private IPC, a
small /tmp and /dev/shm, and nothing of the host mounted but a folder holding the control socket:
the pool server connects to it once at start, and the host then unlinks the socket, so no job can
connect. The pool server is the container's pid 1 (no docker init), not dumpable, so a job cannot
signal it or open its descriptors; each job's channel reaches the job as a passed descriptor.
The container is removed when its box is retired (after a failed job, a job that left something
behind, or `max_uses` jobs), and containers of a process that died are removed on the next start.

Does not protect: the kernel (shared; containers are not VMs).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass

from sandboxes.base import Limits
from sandboxes.box import ControlLink, PoolBox
from sandboxes.errors import BoxBroken, SandboxUnavailable
from sandboxes.image import default_image, image_status

SANDBOX_USER = "10001:10001"
CONTROL_DIR = "/run/evolve"
CONTROL_NAME = "control.sock"
SERVER_MB = 96  # the server process and the image's libraries, on top of the job's memory
TMP_MB = 64
SHM_MB = 16
CPUS = 1.0
READY_SECONDS = 60.0
KILL_SECONDS = 10.0
OWNER_LABEL = "evolve.sandbox.owner"
DEFAULT_MAX_USES = 50


def docker_client(timeout: int = 30):
    """A client for the local engine, or SandboxUnavailable saying why not."""
    try:
        import docker

        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # DockerException, requests' ConnectionError, missing socket...
        raise SandboxUnavailable(f"no Docker engine answers ({type(exc).__name__}: {str(exc)[:150]})") from exc
    return client


def owner_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def container_settings(image: str, limits: Limits, control_dir: str) -> dict:
    """Everything hardening the container, as docker SDK `containers.create` arguments."""
    from docker.types import LogConfig

    memory = f"{limits.memory_mb + SERVER_MB}m"
    return dict(
        image=image,
        command=["python3", "-s", "-P", "-m", "sandboxes.pool_server", "--connect", f"{CONTROL_DIR}/{CONTROL_NAME}"],
        user=SANDBOX_USER,
        working_dir="/tmp",
        hostname="sandbox",
        network_mode="none",
        read_only=True,
        init=False,  # the pool server is pid 1: jobs cannot signal it
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        mem_limit=memory,
        memswap_limit=memory,
        pids_limit=limits.max_processes + 8,
        nano_cpus=int(CPUS * 1e9),
        tmpfs={"/tmp": f"rw,nosuid,nodev,noexec,size={TMP_MB}m,mode=1777"},
        shm_size=f"{SHM_MB}m",
        ipc_mode="private",
        volumes={control_dir: {"bind": CONTROL_DIR, "mode": "rw"}},
        labels={OWNER_LABEL: owner_label()},
        log_config=LogConfig(type=LogConfig.types.JSON, config={"max-size": "1m", "max-file": "1"}),
    )


class DockerBackend:
    """Opens boxes: one container each. max_uses=1 is the cold path (a container per job)."""

    name = "docker"

    def __init__(self, image: str | None = None, max_uses: int = DEFAULT_MAX_USES, client=None, note: str = ""):
        image = image or default_image()
        self._client = client or docker_client()
        status = image_status(self._client, image)
        if status.state != "ok":
            raise SandboxUnavailable(status.detail)
        remove_orphans(self._client)
        self._image, self.max_uses, self.note = image, max_uses, note

    def open(self, limits: Limits) -> PoolBox:
        """Start a container sized for `limits` with its pool server connected; SandboxUnavailable if not."""
        import docker.errors

        control_dir = tempfile.mkdtemp(prefix="evolve-box-")
        os.chmod(control_dir, 0o711)  # others may pass through to the socket, not list or write here
        path = os.path.join(control_dir, CONTROL_NAME)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        _only_the_container_user(path)
        listener.listen(1)
        container = None
        try:
            container = self._client.containers.create(**container_settings(self._image, limits, control_dir))
            launcher = _Launcher(container, control_dir)
            container.start()
            sock = _accept(listener, READY_SECONDS)
        except docker.errors.ImageNotFound as exc:
            _discard(container, control_dir)
            raise SandboxUnavailable(f"image {self._image} is not built (run: evolve sandbox build)") from exc
        except (docker.errors.APIError, BoxBroken) as exc:
            logs = _logs(container)
            _discard(container, control_dir)
            raise SandboxUnavailable(f"the container did not start: {exc} {logs}") from exc
        finally:
            listener.close()
            try:
                os.unlink(path)  # connected: nobody else may
            except OSError:
                pass
        box = PoolBox(launcher, ControlLink(sock))
        try:
            box.link.expect("ready", READY_SECONDS)
        except BoxBroken as exc:
            logs = _logs(container)
            box.close()
            raise SandboxUnavailable(f"the container's server did not start: {exc} {logs}") from exc
        return box


def _only_the_container_user(path: str) -> None:
    """The control socket may be connected by the container's user and this one, nobody else."""
    uid, gid = (int(part) for part in SANDBOX_USER.split(":"))
    try:
        os.chown(path, uid, gid)
        os.chmod(path, 0o600)
    except PermissionError:  # not root: a rootless engine maps users its own way; keep it private to us
        os.chmod(path, 0o666)


def _accept(listener: socket.socket, timeout: float) -> socket.socket:
    listener.settimeout(timeout)
    try:
        sock, _ = listener.accept()
    except socket.timeout:
        raise BoxBroken("the container's server never connected") from None
    sock.settimeout(None)
    return sock


@dataclass
class _Launcher:
    container: object
    control_dir: str

    def oom_kills(self) -> int:
        return 0  # the pool server reads the container's own memory.events and reports OOM kills

    def stderr(self) -> str:
        return _logs(self.container)

    def destroy(self) -> None:
        _discard(self.container, self.control_dir)


def _discard(container, control_dir: str) -> None:
    if container is not None:
        sure_remove(container)
    shutil.rmtree(control_dir, ignore_errors=True)


def _logs(container) -> str:
    try:
        return container.logs(tail=20).decode("utf-8", "replace")[-1500:] if container is not None else ""
    except Exception:
        return ""


def sure_remove(container) -> None:
    """kill + remove, surviving every way the engine fails to answer.

    docker-py's calls with a timeout can raise requests' ReadTimeout, or a ConnectionError
    wrapping a read timeout, instead of returning: both (and any API error) are swallowed here,
    and removal with force is tried regardless, so the container never outlives the job.
    """
    import docker.errors
    import requests.exceptions

    expected = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)
    try:
        container.kill()
    except expected:
        pass
    for _ in range(3):
        try:
            container.remove(force=True)
            return
        except docker.errors.NotFound:
            return
        except expected:
            time.sleep(0.2)


def remove_owned_by(pid: int) -> int:
    """Remove the containers of a worker that was killed (best effort; orphans go at the next start)."""
    try:
        client = docker_client(timeout=10)
    except SandboxUnavailable:
        return 0
    try:
        found = client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={socket.gethostname()}:{pid}"})
    except Exception:
        return 0
    for container in found:
        sure_remove(container)
    return len(found)


def remove_orphans(client) -> int:
    """Remove containers left by a process on this host that is gone (e.g. killed with -9)."""
    import docker.errors
    import requests.exceptions

    removed = 0
    host = socket.gethostname()
    try:
        found = client.containers.list(all=True, filters={"label": OWNER_LABEL})
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return 0
    for container in found:
        owner_host, _, pid = container.labels.get(OWNER_LABEL, "").rpartition(":")
        if owner_host == host and pid.isdigit() and not _alive(int(pid)):
            sure_remove(container)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
