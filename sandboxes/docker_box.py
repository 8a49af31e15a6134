"""One hardened container running `sandboxes.pool_server`, spoken to over its attached stdio.

Docker SDK calls block, so they run in threads; the job data path is the raw attach socket,
read and written from the event loop. Docker multiplexes the container's stdout and stderr
on that socket in frames of an 8-byte header (stream, 0, 0, 0, big-endian size) plus payload.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass, field

from sandboxes.base import Limits
from sandboxes.errors import SandboxUnavailable
from sandboxes.pool_server import READY
from sandboxes.warm import BoxBroken, Reply, decode_reply, read_exact, read_line, reply_size, request_bytes

SANDBOX_USER = "10001:10001"
PROBLEM_MOUNT = "/problem"
SERVER_MB = 96  # the server process and the image's libraries, on top of the job's memory
TMP_MB = 64
SHM_MB = 16
CPUS = 1.0
READY_SECONDS = 60.0
KILL_SECONDS = 10.0
OWNER_LABEL = "evolve.sandbox.owner"


@dataclass(frozen=True)
class BoxKey:
    """Containers are reusable for jobs that mount the same problem folder under the same limits."""

    problem_dir: str
    memory_mb: int
    max_processes: int


def owner_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def container_settings(image: str, key: BoxKey) -> dict:
    """Everything hardening the container, as docker SDK `containers.create` arguments."""
    from docker.types import LogConfig

    memory = f"{key.memory_mb + SERVER_MB}m"
    return dict(
        image=image,
        command=["python3", "-s", "-P", "-m", "sandboxes.pool_server"],
        stdin_open=True,
        tty=False,
        user=SANDBOX_USER,
        working_dir="/tmp",
        hostname="sandbox",
        network_mode="none",
        read_only=True,
        init=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        mem_limit=memory,
        memswap_limit=memory,
        pids_limit=key.max_processes + 8,
        nano_cpus=int(CPUS * 1e9),
        tmpfs={"/tmp": f"rw,nosuid,nodev,noexec,size={TMP_MB}m,mode=1777"},
        shm_size=f"{SHM_MB}m",
        ipc_mode="private",
        volumes={key.problem_dir: {"bind": PROBLEM_MOUNT, "mode": "ro"}},
        labels={OWNER_LABEL: owner_label()},
        log_config=LogConfig(type=LogConfig.types.JSON, config={"max-size": "1m", "max-file": "1"}),
    )


@dataclass
class Box:
    """A started container, its attach socket, and how many jobs it has run."""

    client: object
    container: object
    key: BoxKey
    response: object  # keeps the hijacked HTTP response (and so the socket) alive
    sock: socket.socket
    uses: int = 0
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    raw: bytearray = field(default_factory=bytearray)

    @classmethod
    async def start(cls, client, image: str, key: BoxKey) -> "Box":
        container, response = await asyncio.to_thread(_create_and_attach, client, image, key)
        sock = getattr(response, "_sock", response)
        sock.setblocking(False)
        box = cls(client, container, key, response, sock)
        try:
            await asyncio.to_thread(container.start)
            line = await box._read_line(time.monotonic() + READY_SECONDS)
        except BaseException:
            await box.destroy()
            raise
        if line + b"\n" != READY:
            await box.destroy()
            raise SandboxUnavailable(f"sandbox server did not start: {line[:200]!r} {box.stderr_text()[-500:]}")
        return box

    async def request(self, nonce: str, payload: bytes, limits: Limits, deadline: float) -> Reply:
        """Send one job and wait for its reply until `deadline`; TimeoutError or BoxBroken otherwise."""
        self.uses += 1
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.sock_sendall(self.sock, request_bytes(nonce, payload, limits)), max(0.01, deadline - time.monotonic()))
        except OSError as exc:
            raise BoxBroken(f"cannot send the job: {exc}") from exc
        size = reply_size(await self._read_line(deadline), nonce)
        return decode_reply(await self._read_exact(size, deadline))

    def alive(self) -> bool:
        return True  # asking the engine costs a round trip; a dead container shows as BoxBroken

    async def destroy(self) -> None:
        """Kill and remove for sure; never raises."""
        try:
            self.response.close() if hasattr(self.response, "close") else self.sock.close()
        except OSError:
            pass
        await asyncio.to_thread(sure_remove, self.container)

    async def oom_killed(self) -> bool:
        """Whether Docker saw an OOM kill in this container (after the server died)."""
        try:
            await asyncio.to_thread(self.container.reload)
            return bool(self.container.attrs["State"].get("OOMKilled"))
        except Exception:
            return False

    def stderr_text(self) -> str:
        return bytes(self.stderr[-4000:]).decode("utf-8", "replace")

    async def _read_line(self, deadline: float) -> bytes:
        return await read_line(self.stdout, self._receive, deadline, "the container")

    async def _read_exact(self, size: int, deadline: float) -> bytes:
        return await read_exact(self.stdout, size, self._receive, deadline)

    async def _receive(self, deadline: float) -> None:
        """Read one chunk off the socket and split Docker's frames into stdout and stderr."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        loop = asyncio.get_running_loop()
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(self.sock, 1 << 16), remaining)
        except OSError as exc:
            raise BoxBroken(f"attach socket failed: {exc}") from exc
        if not chunk:
            raise BoxBroken("the container's server exited")
        self.raw += chunk
        while len(self.raw) >= 8:
            size = int.from_bytes(self.raw[4:8], "big")
            if len(self.raw) < 8 + size:
                break
            stream, data = self.raw[0], bytes(self.raw[8 : 8 + size])
            del self.raw[: 8 + size]
            if stream == 1:
                self.stdout += data
            else:
                self.stderr += data
                del self.stderr[:-8000]


def _create_and_attach(client, image: str, key: BoxKey):
    import docker.errors

    try:
        container = client.containers.create(**container_settings(image, key))
    except docker.errors.ImageNotFound as exc:
        raise SandboxUnavailable(f"image {image} is not built (run: evolve sandbox build)") from exc
    except docker.errors.APIError as exc:
        raise SandboxUnavailable(f"cannot create a container: {exc.explanation or exc}") from exc
    try:
        response = client.api.attach_socket(container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
    except Exception:
        sure_remove(container)
        raise
    return container, response


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
    try:
        container.wait(timeout=KILL_SECONDS)
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
