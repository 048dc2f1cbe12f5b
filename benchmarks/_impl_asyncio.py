"""The baseline: plain asyncio, the way its documentation teaches.

Byte streams are asyncio's own streams: ``asyncio.open_connection(sock=...)`` for
sockets, and for pipes, FIFOs and the pty the documented pipe recipe
(``connect_read_pipe`` with a ``StreamReaderProtocol``, ``connect_write_pipe`` with
a ``StreamWriter``). ``writer.write`` is followed by ``await writer.drain()`` for every
send; ``reader.readexactly`` reads a fixed-size message and ``reader.read(n)`` bulk
data. Datagrams use ``loop.create_datagram_endpoint`` with a protocol that resolves one
future per reply. SysV calls, which have no fd, run in the loop's default executor
(``loop.run_in_executor``), the stdlib's answer to a blocking call. The "vs asyncio"
ratios divide by this implementation's figure on the same loop.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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

ASYNCIO_STREAMS = Implementation(
    name="asyncio",
    summary="asyncio streams (open_connection, or connect_read_pipe/connect_write_pipe), "
    "create_datagram_endpoint, run_in_executor for SysV",
    driver="asyncio",
    role="baseline",
    unsupported={
        ("pingpong-pty", "uvloop"): (
            "asyncio streams over a pty master hang on uvloop: uvloop's write-pipe "
            "transport also reads its fd (uvloop#317), and on a dup of the master it "
            "sometimes takes the echo (1 run in 3 hung here; with the read pipe "
            "connected first, none got any data)"
        )
    },
)


@asynccontextmanager
async def open_streams(
    channel: Channel,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """asyncio's reader and writer over the channel; closed when the block ends."""
    read_transport: asyncio.ReadTransport | None = None
    if channel.sock is not None:
        reader, writer = await asyncio.open_connection(sock=channel.take_socket())
    else:
        loop = asyncio.get_running_loop()
        rfd, wfd = channel.take_fds()
        if channel.is_pty:
            wfd = os.dup(rfd)  # each pipe transport closes its own fd
        # The write pipe first: on uvloop, a read pipe connected before a write pipe on
        # a dup of the same pty master never sees the data that arrives (measured).
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin,
            open(wfd, "wb", buffering=0),  # noqa: SIM115 (the transport closes it)
        )
        reader = asyncio.StreamReader()
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader),
            open(rfd, "rb", buffering=0),  # noqa: SIM115 (the transport closes it)
        )
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
    try:
        yield reader, writer
    finally:
        writer.close()
        if read_transport is None:
            await writer.wait_closed()
        else:
            # A pipe writer's protocol has no close waiter; the transports close their
            # fds in the callbacks this sleep lets run.
            read_transport.close()
            await asyncio.sleep(0)


@ASYNCIO_STREAMS.client(*scenario_names(STREAMS, "pingpong"))
async def pingpong(channel: Channel, workload: Workload) -> float:
    """Round trips of ``workload.size`` bytes to the echo peer."""
    async with open_streams(channel) as (reader, writer):
        message = b"p" * workload.size
        size = workload.size
        reply = b""
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            start = time.perf_counter()
            for _ in range(count):
                writer.write(message)
                await writer.drain()
                reply = await reader.readexactly(size)
            elapsed = time.perf_counter() - start
        check_echo(message, reply)
        return elapsed


@ASYNCIO_STREAMS.client(*scenario_names(BULK, "bulk-send"))
async def bulk_send(channel: Channel, workload: Workload) -> float:
    """``workload.size``-byte chunks into the sink, until it acknowledges the last one."""
    async with open_streams(channel) as (reader, writer):
        chunk = b"b" * workload.size
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            start = time.perf_counter()
            for _ in range(count):
                writer.write(chunk)
                await writer.drain()
            if await reader.readexactly(1) != ACK:
                raise EndOfStreamError("sink peer did not acknowledge")
            elapsed = time.perf_counter() - start
        return elapsed


@ASYNCIO_STREAMS.client(*scenario_names(BULK, "bulk-receive"))
async def bulk_receive(channel: Channel, workload: Workload) -> float:
    """Receive with ``workload.size``-byte reads until the source's transfer is complete."""
    async with open_streams(channel) as (reader, writer):
        size = workload.size
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            expected = count * size
            start = time.perf_counter()
            writer.write(GO)
            await writer.drain()
            got = 0
            while got < expected:
                data = await reader.read(size)
                if not data:
                    raise EndOfStreamError(f"source peer closed after {got} of {expected} bytes")
                got += len(data)
            elapsed = time.perf_counter() - start
        return elapsed


class _ReplyProtocol(asyncio.DatagramProtocol):
    """Resolves the waiting future with each datagram that arrives."""

    def __init__(self) -> None:
        self.waiter: asyncio.Future[bytes] | None = None

    def datagram_received(self, data: bytes, addr: object) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)


@ASYNCIO_STREAMS.client(*scenario_names(DATAGRAMS, "pingpong"))
async def datagram_pingpong(channel: Channel, workload: Workload) -> float:
    """Round trips of one ``workload.size``-byte datagram to the echo peer."""
    assert channel.address is not None
    loop = asyncio.get_running_loop()
    sock = datagram_socket(channel.address)
    sock.setblocking(False)
    transport, protocol = await loop.create_datagram_endpoint(_ReplyProtocol, sock=sock)
    try:
        message = b"p" * workload.size
        reply = b""
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            start = time.perf_counter()
            for _ in range(count):
                protocol.waiter = loop.create_future()
                transport.sendto(message)
                reply = await protocol.waiter
            elapsed = time.perf_counter() - start
        check_echo(message, reply)
        transport.sendto(STOP)  # the peer's signal to stop
        return elapsed
    finally:
        transport.close()


@ASYNCIO_STREAMS.client("pingpong-sysv-msg")
async def queue_pingpong(channel: Channel, workload: Workload) -> float:
    """Round trips of one message through a SysV queue, each call in the executor."""
    loop = asyncio.get_running_loop()
    queue = sysv_ipc.MessageQueue(channel.keys[0])
    send = functools.partial(queue.send, type=PING_TYPE)
    receive = functools.partial(queue.receive, type=PONG_TYPE)
    message = b"p" * workload.size
    reply = b""
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            # A send to a queue with room never blocks: asyncio code calls it directly.
            send(message)
            reply, _ = await loop.run_in_executor(None, receive)
        elapsed = time.perf_counter() - start
    check_echo(message, reply)
    queue.send(STOP, type=PING_TYPE)
    return elapsed


@ASYNCIO_STREAMS.client("pingpong-sysv-sem")
async def semaphore_pingpong(channel: Channel, workload: Workload) -> float:
    """Round trips of a semaphore unit, each blocking acquire in the executor."""
    loop = asyncio.get_running_loop()
    ping = sysv_ipc.Semaphore(channel.keys[0])
    pong = sysv_ipc.Semaphore(channel.keys[1])
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            ping.release()
            await loop.run_in_executor(None, pong.acquire)
        elapsed = time.perf_counter() - start
    return elapsed
