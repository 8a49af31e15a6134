"""Whole messages over a job's channel: a 4-byte big-endian length, then the message's bytes.

Both sides use it: the candidate's server with `send_message` / `recv_message` on a blocking
socket, the trusted side with `Channel`, which takes as few system calls as it can. What the
bytes mean is sandboxes.wire's business. A candidate file (sandboxes.candidate_side).
"""

from __future__ import annotations

import math
import select
import socket
import struct
import time

HEADER = struct.Struct(">I")
NO_ANSWER = "no answer before the deadline"


class WireError(Exception):
    """Bytes that are not a well-formed message (from a broken or hostile peer)."""


class ChannelClosed(WireError):
    """The peer closed the channel (its process exited or was killed)."""


class ChannelTimeout(WireError):
    """No complete message arrived before the deadline."""


class MessageTooLarge(WireError):
    """A message announced more bytes than the receiver accepts."""


BUFFER_BYTES = 4 << 20  # a tick's whole batch fits: the sender never waits for the reader


def channel_pair() -> tuple[socket.socket, socket.socket]:
    """A connected pair for one job's channel, with buffers large enough for a batch."""
    ours, theirs = socket.socketpair()
    for sock in (ours, theirs):
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, BUFFER_BYTES)
            except OSError:
                pass  # capped by the system's maximum: still correct, only slower
    return ours, theirs


def send_message(sock: socket.socket, payload: bytes) -> None:
    header = HEADER.pack(len(payload))
    if len(payload) < 1 << 16:
        sock.sendall(header + payload)  # one small copy beats a second system call
    else:
        sock.sendall(header)
        sock.sendall(payload)


def recv_message(sock: socket.socket, max_bytes: int, deadline: float | None = None) -> bytes:
    """One whole message; ChannelClosed, ChannelTimeout, or WireError when it is too large.

    The deadline is set on the socket once per message (setting it is a system call)."""
    if deadline is not None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ChannelTimeout(NO_ANSWER)
        sock.settimeout(remaining)
    size = _checked_size(HEADER.unpack(_recv_exact(sock, HEADER.size))[0], max_bytes)
    return _recv_exact(sock, size)


def _checked_size(size: int, max_bytes: int) -> int:
    if size > max_bytes:
        raise MessageTooLarge(f"an answer of {size} bytes exceeds the {max_bytes}-byte limit")
    return size


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        try:
            count = sock.recv_into(view[got:])
        except socket.timeout:
            raise ChannelTimeout(NO_ANSWER) from None
        except OSError as exc:
            raise ChannelClosed(f"channel failed: {exc}") from None
        if count == 0:
            raise ChannelClosed("the other side closed the channel")
        got += count
    return bytes(buffer)


class Channel:
    """The trusted side's end of a job's channel: whole messages both ways, under a deadline, in
    as few system calls as it takes. The socket is non-blocking, so a send or a receive that can
    go at once is one call (a socket with a timeout polls before every call); poll waits only
    when it cannot. A receive reads the header and the body together and keeps any bytes past
    the message for the next one: what the peer sends is read exactly as `recv_message` would."""

    CHUNK = 1 << 16

    def __init__(self, sock: socket.socket):
        self.sock = sock
        sock.setblocking(False)
        self.buffer = bytearray()
        self.poller = select.poll()
        self.poller.register(sock, select.POLLIN)

    def send(self, payload: bytes, deadline: float | None = None) -> None:
        """The whole message, or ChannelTimeout; the socket's own errors (BrokenPipeError...) pass."""
        data = memoryview(HEADER.pack(len(payload)) + payload)
        while data:
            try:
                data = data[self.sock.send(data) :]
            except BlockingIOError:
                self._wait(select.POLLOUT, deadline)

    def recv(self, max_bytes: int, deadline: float | None = None) -> bytes:
        """One whole message; ChannelClosed, ChannelTimeout, or MessageTooLarge. Past the deadline
        it is a timeout even when a whole message waits (as `recv_message`): replies queued ahead
        must not carry a candidate past its wall clock limit."""
        if deadline is not None and deadline - time.monotonic() <= 0:
            raise ChannelTimeout(NO_ANSWER)
        buffer = self.buffer
        while True:
            if len(buffer) >= HEADER.size:
                size = _checked_size(HEADER.unpack_from(buffer)[0], max_bytes)
                end = HEADER.size + size
                if len(buffer) >= end:
                    with memoryview(buffer) as view:
                        message = view[HEADER.size : end].tobytes()
                    del buffer[:end]
                    return message
                want = end - len(buffer)
            else:
                want = HEADER.size - len(buffer)
            try:
                chunk = self.sock.recv(max(want, self.CHUNK))
            except BlockingIOError:
                self._wait(select.POLLIN, deadline)
                continue
            except OSError as exc:
                raise ChannelClosed(f"channel failed: {exc}") from None
            if not chunk:
                raise ChannelClosed("the other side closed the channel")
            buffer += chunk

    def _wait(self, events: int, deadline: float | None) -> None:
        if deadline is None:
            timeout = None
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout(NO_ANSWER)
            timeout = math.ceil(remaining * 1000)
        self.poller.modify(self.sock, events)
        self.poller.poll(timeout)  # ready, hung up, or timed out: the caller's next try tells which
