"""Pair factories for the stream conformance suite: one per kind of channel."""

from __future__ import annotations

import os
import socket
import tempfile

import aioipc
from aioipc import Stream
from aioipc._fifo import _open_stream


async def pipe_pair() -> tuple[Stream, Stream]:
    reader, writer = await aioipc.pipe()
    return writer, reader


async def socketpair_pair() -> tuple[Stream, Stream]:
    return await aioipc.socketpair()


def connected_sockets(family: int, address: object) -> tuple[socket.socket, socket.socket]:
    # Connecting to a listening socket on this host completes from the backlog, so the
    # blocking calls here return at once.
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        listener.bind(address)
        listener.listen(1)
        client = socket.socket(family, socket.SOCK_STREAM)
        client.connect(listener.getsockname())
        server, _ = listener.accept()
    return client, server


async def _wrap(client: socket.socket, server: socket.socket) -> tuple[Stream, Stream]:
    try:
        first = await Stream.from_socket(client)
    except BaseException:
        server.close()
        raise
    return first, await Stream.from_socket(server)


async def tcp_pair() -> tuple[Stream, Stream]:
    return await _wrap(*connected_sockets(socket.AF_INET, ("127.0.0.1", 0)))


async def unix_pair() -> tuple[Stream, Stream]:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "sock")
        sockets = connected_sockets(socket.AF_UNIX, path)
    return await _wrap(*sockets)


async def fifo_pair() -> tuple[Stream, Stream]:
    # The FIFO lives in a directory of its own, removed as soon as both ends are open:
    # the open fds keep working without a name.  (open_fifo's streams are tied to its
    # context manager; a pair factory hands bare streams to the checks, which close them.)
    directory = tempfile.mkdtemp()
    path = os.path.join(directory, "fifo")
    try:
        aioipc.mkfifo(path)
        reader = await _open_stream(path, "r", False)
        try:
            writer = await _open_stream(path, "w", False)
        except BaseException:
            await reader.aclose()
            raise
    finally:
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(directory)
    return writer, reader


ONE_WAY = {"pipe": pipe_pair, "fifo": fifo_pair}
HALF_CLOSEABLE = {"socketpair": socketpair_pair, "tcp": tcp_pair, "unix": unix_pair}
