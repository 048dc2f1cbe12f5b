"""The limit: plain blocking system calls, no event loop, no allocation in the loop.

Byte streams are written with ``os.write`` and read with ``os.readv`` into one
preallocated buffer (sockets, pipes, FIFOs and the pty alike); datagrams with a
blocking connected socket; SysV objects with ``sysv_ipc``'s blocking calls. What is
left is the system calls, the peer's wake-ups and the interpreter's loop overhead:
what any asyncio implementation should be compared to.
"""

from __future__ import annotations

import os
import time

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
    close_fds,
    datagram_socket,
    scenario_names,
)
from ._registry import Implementation, Workload

RAW = Implementation(
    name="raw-blocking",
    summary="blocking os.write / os.readv, socket send/recv, sysv_ipc calls; no event loop "
    "(the syscall limit)",
    driver="blocking",
    role="limit",
)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, view: memoryview) -> None:
    got = 0
    size = len(view)
    while got < size:
        n = os.readv(fd, [view[got:]])
        if n == 0:
            raise EndOfStreamError("the peer closed the channel")
        got += n


@RAW.client(*scenario_names(STREAMS, "pingpong"))
def pingpong(channel: Channel, workload: Workload) -> float:
    """Round trips of ``workload.size`` bytes to the echo peer."""
    rfd, wfd = channel.take_fds()
    try:
        message = b"p" * workload.size
        buf = bytearray(workload.size)
        view = memoryview(buf)
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            start = time.perf_counter()
            for _ in range(count):
                _write_all(wfd, message)
                _read_exactly(rfd, view)
            elapsed = time.perf_counter() - start
        check_echo(message, bytes(buf))
        return elapsed
    finally:
        close_fds(rfd, wfd)


@RAW.client(*scenario_names(BULK, "bulk-send"))
def bulk_send(channel: Channel, workload: Workload) -> float:
    """``workload.size``-byte chunks into the sink, until it acknowledges the last one."""
    rfd, wfd = channel.take_fds()
    try:
        chunk = b"b" * workload.size
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            start = time.perf_counter()
            for _ in range(count):
                _write_all(wfd, chunk)
            if os.read(rfd, 1) != ACK:
                raise EndOfStreamError("sink peer did not acknowledge")
            elapsed = time.perf_counter() - start
        return elapsed
    finally:
        close_fds(rfd, wfd)


@RAW.client(*scenario_names(BULK, "bulk-receive"))
def bulk_receive(channel: Channel, workload: Workload) -> float:
    """Receive with ``workload.size``-byte reads until the source's transfer is complete."""
    rfd, wfd = channel.take_fds()
    try:
        buf = bytearray(workload.size)
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            expected = count * workload.size
            start = time.perf_counter()
            _write_all(wfd, GO)
            got = 0
            while got < expected:
                n = os.readv(rfd, [buf])
                if n == 0:
                    raise EndOfStreamError(f"source peer closed after {got} of {expected} bytes")
                got += n
            elapsed = time.perf_counter() - start
        return elapsed
    finally:
        close_fds(rfd, wfd)


@RAW.client(*scenario_names(DATAGRAMS, "pingpong"))
def datagram_pingpong(channel: Channel, workload: Workload) -> float:
    """Round trips of one ``workload.size``-byte datagram to the echo peer."""
    assert channel.address is not None
    with datagram_socket(channel.address) as sock:
        message = b"p" * workload.size
        buf = bytearray(workload.size + 1)
        elapsed = 0.0
        n = 0
        for count in (workload.warmup, workload.iterations):
            start = time.perf_counter()
            for _ in range(count):
                sock.send(message)
                n = sock.recv_into(buf)
            elapsed = time.perf_counter() - start
        check_echo(message, bytes(buf[:n]))
        sock.send(STOP)  # the peer's signal to stop
        return elapsed


@RAW.client("pingpong-sysv-msg")
def queue_pingpong(channel: Channel, workload: Workload) -> float:
    """Round trips of one message through a SysV queue (type 1 out, type 2 back)."""
    queue = sysv_ipc.MessageQueue(channel.keys[0])
    message = b"p" * workload.size
    reply = b""
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            queue.send(message, type=PING_TYPE)
            reply, _ = queue.receive(type=PONG_TYPE)
        elapsed = time.perf_counter() - start
    check_echo(message, reply)
    queue.send(STOP, type=PING_TYPE)
    return elapsed


@RAW.client("pingpong-sysv-sem")
def semaphore_pingpong(channel: Channel, workload: Workload) -> float:
    """Round trips of a semaphore unit: give one to the peer, take the one it gives back."""
    ping = sysv_ipc.Semaphore(channel.keys[0])
    pong = sysv_ipc.Semaphore(channel.keys[1])
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            ping.release()
            pong.acquire()
        elapsed = time.perf_counter() - start
    return elapsed
