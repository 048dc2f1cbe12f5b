"""aioipc's own byte stream: ``aioipc.Stream.from_socket(sock)``.

Uses the stream's public API only: ``send`` (which applies back-pressure, like
``write`` + ``drain``), ``receive_exactly`` for a fixed-size message and
``receive(max_bytes)`` for bulk data.
"""

from __future__ import annotations

import socket
import time

import anyio

import aioipc

from ._protocol import ACK, GO, EndOfStreamError, check_echo
from ._registry import Implementation, Workload


def _unavailable() -> str | None:
    if not hasattr(aioipc, "Stream"):
        return "aioipc.Stream does not exist yet (aioipc/_streams.py has not landed)"
    return None


AIOIPC = Implementation(
    name="aioipc",
    summary="aioipc.Stream.from_socket: send, receive, receive_exactly",
    driver="asyncio",
    unavailable=_unavailable,
)


@AIOIPC.client("pingpong")
async def pingpong(sock: socket.socket, workload: Workload) -> float:
    """Round trips of ``workload.size`` bytes to the echo peer."""
    async with await aioipc.Stream.from_socket(sock) as stream:
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


@AIOIPC.client("bulk-send")
async def bulk_send(sock: socket.socket, workload: Workload) -> float:
    """``workload.size``-byte chunks into the sink, until it acknowledges the last one."""
    async with await aioipc.Stream.from_socket(sock) as stream:
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


@AIOIPC.client("bulk-receive")
async def bulk_receive(sock: socket.socket, workload: Workload) -> float:
    """Receive with ``workload.size``-byte reads until the source's transfer is complete."""
    async with await aioipc.Stream.from_socket(sock) as stream:
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
