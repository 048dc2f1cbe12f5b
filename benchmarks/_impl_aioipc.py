"""aioipc's own API, as its users write it.

Byte streams: ``aioipc.Stream.from_socket`` (sockets), ``Stream.from_fd(fd, "rw")``
(the pty master) and ``Stream.from_pipe_fds`` (pipes and FIFOs), then ``send`` (which
applies back-pressure, like ``write`` + ``drain``), ``receive_exactly`` for a
fixed-size message and ``receive(max_bytes)`` for bulk data. Datagrams:
``aioipc.open_datagram(remote=...)``. SysV: ``aioipc.sysv.MessageQueue`` and
``aioipc.sysv.Semaphore``.
"""

from __future__ import annotations

import time

import anyio

import aioipc
from aioipc import sysv

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
    scenario_names,
)
from ._registry import Implementation, Workload

AIOIPC = Implementation(
    name="aioipc",
    summary="aioipc.Stream (send, receive, receive_exactly), open_datagram, "
    "aioipc.sysv MessageQueue and Semaphore",
    driver="asyncio",
)


async def open_stream(channel: Channel) -> aioipc.Stream:
    """The channel as an ``aioipc.Stream``, made the way a user would make it."""
    if channel.sock is not None:
        return await aioipc.Stream.from_socket(channel.take_socket())
    rfd, wfd = channel.take_fds()
    if channel.is_pty:
        return await aioipc.Stream.from_fd(rfd, "rw")
    return await aioipc.Stream.from_pipe_fds(rfd, wfd)


@AIOIPC.client(*scenario_names(STREAMS, "pingpong"))
async def pingpong(channel: Channel, workload: Workload) -> float:
    """Round trips of ``workload.size`` bytes to the echo peer."""
    async with await open_stream(channel) as stream:
        message = b"p" * workload.size
        size = workload.size
        reply = b""
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            start = time.perf_counter()
            for _ in range(count):
                await stream.send(message)
                reply = await stream.receive_exactly(size)
            elapsed = time.perf_counter() - start
        check_echo(message, reply)
        return elapsed


@AIOIPC.client(*scenario_names(BULK, "bulk-send"))
async def bulk_send(channel: Channel, workload: Workload) -> float:
    """``workload.size``-byte chunks into the sink, until it acknowledges the last one."""
    async with await open_stream(channel) as stream:
        chunk = b"b" * workload.size
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            start = time.perf_counter()
            for _ in range(count):
                await stream.send(chunk)
            if await stream.receive_exactly(1) != ACK:
                raise EndOfStreamError("sink peer did not acknowledge")
            elapsed = time.perf_counter() - start
        return elapsed


@AIOIPC.client(*scenario_names(BULK, "bulk-receive"))
async def bulk_receive(channel: Channel, workload: Workload) -> float:
    """Receive with ``workload.size``-byte reads until the source's transfer is complete."""
    async with await open_stream(channel) as stream:
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


@AIOIPC.client(*scenario_names(DATAGRAMS, "pingpong"))
async def datagram_pingpong(channel: Channel, workload: Workload) -> float:
    """Round trips of one ``workload.size``-byte datagram to the echo peer."""
    async with aioipc.open_datagram(remote=channel.address) as sock:
        message = b"p" * workload.size
        reply = b""
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            start = time.perf_counter()
            for _ in range(count):
                await sock.send(message)
                reply, _ = await sock.receive()
            elapsed = time.perf_counter() - start
        check_echo(message, reply)
        await sock.send(STOP)  # the peer's signal to stop
        return elapsed


@AIOIPC.client("pingpong-sysv-msg")
async def queue_pingpong(channel: Channel, workload: Workload) -> float:
    """Round trips of one message through a SysV queue (type 1 out, type 2 back)."""
    queue = sysv.MessageQueue(channel.keys[0], create=False)
    message = b"p" * workload.size
    reply = b""
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            await queue.send(message, type=PING_TYPE)
            reply, _ = await queue.receive(type=PONG_TYPE)
        elapsed = time.perf_counter() - start
    check_echo(message, reply)
    await queue.send(STOP, type=PING_TYPE)
    return elapsed


@AIOIPC.client("pingpong-sysv-sem")
async def semaphore_pingpong(channel: Channel, workload: Workload) -> float:
    """Round trips of a semaphore unit: give one to the peer, take the one it gives back."""
    ping = sysv.Semaphore(channel.keys[0], create=False, undo=False)
    pong = sysv.Semaphore(channel.keys[1], create=False, undo=False)
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            ping.release()
            await pong.acquire()
        elapsed = time.perf_counter() - start
    return elapsed
