"""anyio's socket streams, run with ``anyio.run`` on the asyncio backend.

Two flavours, because anyio wraps a socket in two different ways:

* ``anyio`` — ``anyio.abc.SocketStream.from_socket``: a transport/protocol stream,
  what ``anyio.connect_tcp`` returns.
* ``anyio-unix`` — ``anyio.abc.UNIXSocketStream.from_socket``: non-blocking socket
  calls with the loop's reader/writer callbacks, what ``anyio.connect_unix`` returns
  (a socketpair is an AF_UNIX socket).

anyio's stream has no ``receive_exactly``; a fixed-size message is read with
``receive(remaining)`` until complete, which never reads past the message and so needs
no buffering wrapper.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Awaitable, Callable

import anyio
import anyio.abc

from ._protocol import ACK, GO, EndOfStreamError, check_echo
from ._registry import Implementation, Workload

Wrap = Callable[[socket.socket], Awaitable[anyio.abc.SocketStream]]


def _register(impl: Implementation, wrap: Wrap) -> None:
    @impl.client("pingpong")
    async def pingpong(sock: socket.socket, workload: Workload) -> float:
        """Round trips of ``workload.size`` bytes to the echo peer."""
        async with await wrap(sock) as stream:
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

    @impl.client("bulk-send")
    async def bulk_send(sock: socket.socket, workload: Workload) -> float:
        """``workload.size``-byte chunks into the sink, until it acknowledges the last one."""
        async with await wrap(sock) as stream:
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

    @impl.client("bulk-receive")
    async def bulk_receive(sock: socket.socket, workload: Workload) -> float:
        """Receive with ``workload.size``-byte reads until the source's transfer is complete."""
        async with await wrap(sock) as stream:
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
    summary="anyio.abc.SocketStream.from_socket (transport-based, as connect_tcp)",
    driver="anyio",
)
ANYIO_UNIX = Implementation(
    name="anyio-unix",
    summary="anyio.abc.UNIXSocketStream.from_socket (raw non-blocking calls, as connect_unix)",
    driver="anyio",
)
_register(ANYIO, anyio.abc.SocketStream.from_socket)
_register(ANYIO_UNIX, anyio.abc.UNIXSocketStream.from_socket)
