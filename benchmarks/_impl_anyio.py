"""anyio, run with ``anyio.run`` on the asyncio backend.

Two flavours for sockets, because anyio wraps a socket in two different ways:

* ``anyio`` — ``anyio.abc.SocketStream.from_socket``: a transport/protocol stream,
  what ``anyio.connect_tcp`` returns.
* ``anyio-unix`` — ``anyio.abc.UNIXSocketStream.from_socket``: non-blocking socket
  calls with the loop's reader/writer callbacks, what ``anyio.connect_unix`` returns
  (AF_UNIX channels only).

anyio has no stream type for a pipe, FIFO or pty fd; what it offers is
``anyio.wait_readable(fd)`` / ``anyio.wait_writable(fd)``, so the ``anyio`` client for
those is the smallest ``ByteStream`` built on them with ``os.read`` and ``os.write``.
Datagrams use ``ConnectedUDPSocket.from_socket`` / ``ConnectedUNIXDatagramSocket
.from_socket``; SysV calls run in ``anyio.to_thread.run_sync``.

anyio's stream has no ``receive_exactly``; a fixed-size message is read with
``receive(remaining)`` until complete, which never reads past the message and so needs
no buffering wrapper.
"""

from __future__ import annotations

import functools
import os
import socket
import time
from collections.abc import Awaitable, Callable

import anyio
import anyio.abc
import anyio.to_thread
import sysv_ipc

from ._channels import Channel
from ._protocol import (
    ACK,
    BULK,
    DATAGRAMS,
    GO,
    PING_TYPE,
    PONG_TYPE,
    STOP,
    STREAMS,
    EndOfStreamError,
    check_echo,
    datagram_socket,
    scenario_names,
)
from ._registry import Implementation, Workload

UNIX_KINDS = ("socketpair", "unix")


class FdStream(anyio.abc.ByteStream):
    """A byte stream over a non-blocking read fd and write fd, driven by anyio's waits."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._read_fd = read_fd
        self._write_fd = write_fd
        for fd in {read_fd, write_fd}:
            os.set_blocking(fd, False)

    async def receive(self, max_bytes: int = 65536) -> bytes:
        while True:
            try:
                data = os.read(self._read_fd, max_bytes)
            except BlockingIOError:
                await anyio.wait_readable(self._read_fd)
                continue
            except OSError as exc:
                if exc.errno == 5:  # EIO: the pty's other side is gone
                    raise anyio.EndOfStream from None
                raise
            if not data:
                raise anyio.EndOfStream
            return data

    async def send(self, item: bytes) -> None:
        view = memoryview(item)
        while view:
            try:
                view = view[os.write(self._write_fd, view) :]
            except BlockingIOError:
                await anyio.wait_writable(self._write_fd)

    async def send_eof(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        os.close(self._read_fd)
        if self._write_fd != self._read_fd:
            os.close(self._write_fd)


Wrap = Callable[[socket.socket], Awaitable[anyio.abc.ByteStream]]


async def _open(channel: Channel, wrap: Wrap) -> anyio.abc.ByteStream:
    if channel.sock is not None:
        return await wrap(channel.take_socket())
    return FdStream(*channel.take_fds())


def _register(impl: Implementation, wrap: Wrap, kinds: tuple[str, ...]) -> None:
    @impl.client(*(f"pingpong-{kind}" for kind in kinds))
    async def pingpong(channel: Channel, workload: Workload) -> float:
        """Round trips of ``workload.size`` bytes to the echo peer."""
        async with await _open(channel, wrap) as stream:
            message = b"p" * workload.size
            size = workload.size
            reply = b""
            elapsed = 0.0
            for count in (workload.warmup, workload.iterations):
                start = time.perf_counter()
                for _ in range(count):
                    await stream.send(message)
                    reply = await stream.receive(size)
                    while len(reply) < size:
                        reply += await stream.receive(size - len(reply))
                elapsed = time.perf_counter() - start
            check_echo(message, reply)
            return elapsed

    bulk = [kind for kind in kinds if kind in BULK]

    @impl.client(*(f"bulk-send-{kind}" for kind in bulk))
    async def bulk_send(channel: Channel, workload: Workload) -> float:
        """``workload.size``-byte chunks into the sink, until it acknowledges the last one."""
        async with await _open(channel, wrap) as stream:
            chunk = b"b" * workload.size
            elapsed = 0.0
            for count in (workload.warmup, workload.iterations):
                start = time.perf_counter()
                for _ in range(count):
                    await stream.send(chunk)
                if await stream.receive(1) != ACK:
                    raise EndOfStreamError("sink peer did not acknowledge")
                elapsed = time.perf_counter() - start
            return elapsed

    @impl.client(*(f"bulk-receive-{kind}" for kind in bulk))
    async def bulk_receive(channel: Channel, workload: Workload) -> float:
        """Receive with ``workload.size``-byte reads until the source's transfer is complete."""
        async with await _open(channel, wrap) as stream:
            size = workload.size
            elapsed = 0.0
            for count in (workload.warmup, workload.iterations):
                expected = count * size
                start = time.perf_counter()
                await stream.send(GO)
                got = 0
                try:
                    while got < expected:
                        got += len(await stream.receive(size))
                except anyio.EndOfStream:
                    raise EndOfStreamError(
                        f"source peer closed after {got} of {expected} bytes"
                    ) from None
                elapsed = time.perf_counter() - start
            return elapsed


ANYIO = Implementation(
    name="anyio",
    summary="anyio SocketStream.from_socket (as connect_tcp), wait_readable + os.read for "
    "pipes and ptys, connected datagram sockets, to_thread for SysV",
    driver="anyio",
)
ANYIO_UNIX = Implementation(
    name="anyio-unix",
    summary="anyio.abc.UNIXSocketStream.from_socket (raw non-blocking calls, as connect_unix)",
    driver="anyio",
)
_register(ANYIO, anyio.abc.SocketStream.from_socket, STREAMS)
_register(ANYIO_UNIX, anyio.abc.UNIXSocketStream.from_socket, UNIX_KINDS)


@ANYIO.client(*scenario_names(DATAGRAMS, "pingpong"))
async def datagram_pingpong(channel: Channel, workload: Workload) -> float:
    """Round trips of one ``workload.size``-byte datagram to the echo peer."""
    assert channel.address is not None
    sock = datagram_socket(channel.address)
    endpoint: anyio.abc.UnreliableObjectStream[bytes]
    if sock.family == socket.AF_UNIX:
        endpoint = await anyio.abc.ConnectedUNIXDatagramSocket.from_socket(sock)
    else:
        endpoint = await anyio.abc.ConnectedUDPSocket.from_socket(sock)
    async with endpoint:
        message = b"p" * workload.size
        reply = b""
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            start = time.perf_counter()
            for _ in range(count):
                await endpoint.send(message)
                reply = await endpoint.receive()
            elapsed = time.perf_counter() - start
        check_echo(message, reply)
        await endpoint.send(STOP)  # the peer's signal to stop
        return elapsed


@ANYIO.client("pingpong-sysv-msg")
async def queue_pingpong(channel: Channel, workload: Workload) -> float:
    """Round trips of one message through a SysV queue, each receive in a worker thread."""
    queue = sysv_ipc.MessageQueue(channel.keys[0])
    receive = functools.partial(queue.receive, type=PONG_TYPE)
    message = b"p" * workload.size
    reply = b""
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            queue.send(message, type=PING_TYPE)
            reply, _ = await anyio.to_thread.run_sync(receive)
        elapsed = time.perf_counter() - start
    check_echo(message, reply)
    queue.send(STOP, type=PING_TYPE)
    return elapsed


@ANYIO.client("pingpong-sysv-sem")
async def semaphore_pingpong(channel: Channel, workload: Workload) -> float:
    """Round trips of a semaphore unit, each blocking acquire in a worker thread."""
    ping = sysv_ipc.Semaphore(channel.keys[0])
    pong = sysv_ipc.Semaphore(channel.keys[1])
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            ping.release()
            await anyio.to_thread.run_sync(pong.acquire)
        elapsed = time.perf_counter() - start
    return elapsed
