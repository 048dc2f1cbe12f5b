"""The limit: plain blocking sockets, no event loop, no allocation in the loop.

Sends with ``socket.sendall`` and receives with ``socket.recv_into`` into one
preallocated buffer, so what is left is the system calls, the peer's wake-ups and the
interpreter's loop overhead: what any asyncio implementation should be compared to.
"""

from __future__ import annotations

import socket
import time

from ._protocol import ACK, GO, EndOfStreamError, check_echo
from ._registry import Implementation, Workload

RAW = Implementation(
    name="raw-blocking",
    summary="blocking socket.sendall / socket.recv_into, no event loop (the syscall limit)",
    driver="blocking",
    role="limit",
)


@RAW.client("pingpong")
def pingpong(sock: socket.socket, workload: Workload) -> float:
    """Round trips of ``workload.size`` bytes to the echo peer."""
    with sock:
        message = b"p" * workload.size
        buf = bytearray(workload.size)
        view = memoryview(buf)
        size = workload.size
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            start = time.perf_counter()
            for _ in range(count):
                sock.sendall(message)
                got = 0
                while got < size:
                    n = sock.recv_into(view[got:])
                    if n == 0:
                        raise EndOfStreamError("echo peer closed the connection")
                    got += n
            elapsed = time.perf_counter() - start
        check_echo(message, bytes(buf))
        return elapsed


@RAW.client("bulk-send")
def bulk_send(sock: socket.socket, workload: Workload) -> float:
    """``workload.size``-byte chunks into the sink, until it acknowledges the last one."""
    with sock:
        chunk = b"b" * workload.size
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            start = time.perf_counter()
            for _ in range(count):
                sock.sendall(chunk)
            if sock.recv(1) != ACK:
                raise EndOfStreamError("sink peer did not acknowledge")
            elapsed = time.perf_counter() - start
        return elapsed


@RAW.client("bulk-receive")
def bulk_receive(sock: socket.socket, workload: Workload) -> float:
    """Receive with ``workload.size``-byte reads until the source's transfer is complete."""
    with sock:
        buf = bytearray(workload.size)
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            expected = count * workload.size
            start = time.perf_counter()
            sock.sendall(GO)
            got = 0
            while got < expected:
                n = sock.recv_into(buf)
                if n == 0:
                    raise EndOfStreamError(f"source peer closed after {got} of {expected} bytes")
                got += n
            elapsed = time.perf_counter() - start
        return elapsed
