"""The baseline: asyncio's own streams (``asyncio.open_connection(sock=...)``).

Written the way the asyncio documentation teaches: ``writer.write`` followed by
``await writer.drain()`` for every send, ``reader.readexactly`` for a fixed-size
message and ``reader.read(n)`` for bulk data. The "vs asyncio" ratios divide by this
implementation's figure on the same loop.
"""

from __future__ import annotations

import asyncio
import socket
import time

from ._protocol import ACK, GO, EndOfStreamError, check_echo
from ._registry import Implementation, Workload

ASYNCIO_STREAMS = Implementation(
    name="asyncio-streams",
    summary="asyncio.open_connection(sock=...): StreamWriter.write + drain, StreamReader",
    driver="asyncio",
    role="baseline",
)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await writer.wait_closed()


@ASYNCIO_STREAMS.client("pingpong")
async def pingpong(sock: socket.socket, workload: Workload) -> float:
    """Round trips of ``workload.size`` bytes to the echo peer."""
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
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
    finally:
        await _close(writer)


@ASYNCIO_STREAMS.client("bulk-send")
async def bulk_send(sock: socket.socket, workload: Workload) -> float:
    """``workload.size``-byte chunks into the sink, until it acknowledges the last one."""
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
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
    finally:
        await _close(writer)


@ASYNCIO_STREAMS.client("bulk-receive")
async def bulk_receive(sock: socket.socket, workload: Workload) -> float:
    """Receive with ``workload.size``-byte reads until the source's transfer is complete."""
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
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
    finally:
        await _close(writer)
