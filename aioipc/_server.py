"""The in-process stream server behind :func:`aioipc.serve`: a task per connection.

One job: what happens to a connection once it is accepted.  :class:`Server` turns each
accepted socket into an :class:`aioipc.Stream` and runs the handler on it in a task of
its own, with a connection limit (accepting pauses at it, so clients wait in the
backlog instead of being refused), a uid allow-list for Unix sockets, and logging of
handler failures that never stops the server.  Closing drains the handlers, then
cancels those still running and closes their streams at once.

Listening and accepting are :mod:`aioipc._listeners`'s job, and the lifecycle
(``close()`` once and to its end, ``serve_forever()``, ``async with``, the defaults) is
:class:`aioipc._server_base.ServerBase`'s, shared with the forking and prefork
servers; a prefork worker runs a :class:`Server` of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable, Sequence

import anyio
from anyio.abc import SocketAttribute

from ._addresses import Address
from ._server_base import ServerBase
from ._streams import PeerCredentials, Stream, StreamAttribute

__all__ = [
    "Handler",
    "Server",
    "check_allow_uids",
    "describe_peer",
    "peer_credentials",
]

logger = logging.getLogger("aioipc.serve")

#: What a stream server runs for each connection.
Handler = Callable[[Stream], Awaitable[None]]

_CREDENTIALS = struct.Struct("3i")


# ------------------------------------------------------------------ peers


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    """The ``SO_PEERCRED`` credentials of a connected Unix socket's peer."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
    return PeerCredentials(*_CREDENTIALS.unpack(raw))


def describe_peer(stream: Stream) -> str:
    """``127.0.0.1:5000``, ``[::1]:5000`` or ``pid 42 uid 1000``, for log messages."""
    with contextlib.suppress(anyio.TypedAttributeLookupError):
        credentials = stream.extra(StreamAttribute.peer_credentials)
        return f"pid {credentials.pid} uid {credentials.uid}"
    with contextlib.suppress(anyio.TypedAttributeLookupError):
        remote = stream.extra(SocketAttribute.remote_address)
        if isinstance(remote, tuple):
            host, port = remote[:2]
            return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return "an unknown peer"


# ------------------------------------------------------------------ the server


class Server(ServerBase):
    """A running stream server, as :func:`aioipc.serve` returns it.

    Each accepted connection becomes a :class:`aioipc.Stream` and runs the handler in
    its own task.  Leaving ``async with server`` closes it (see :meth:`close`):
    handlers still running after the drain are cancelled, and their streams closed at
    once; :meth:`serve_forever` waits until it is closed.
    """

    def __init__(
        self,
        handler: Callable[[Stream], Awaitable[object]],
        sockets: Sequence[tuple[socket.socket, Address]],
        *,
        max_connections: int | None = None,
        allow_uids: frozenset[int] | None = None,
        unlink: bool = True,
    ) -> None:
        """Made by :func:`aioipc.serve`; takes over ``sockets`` and starts accepting.

        ``unlink=False`` (a prefork worker's copies of its parent's sockets) leaves
        the Unix socket files in place at close.
        """
        super().__init__(sockets, unlink=unlink)
        self._handler = handler
        self._max_connections = max_connections
        self._allow_uids = allow_uids
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener = self._start_accepting(self._accepted)

    def __repr__(self) -> str:
        state = "serving" if self.is_serving else "closed"
        where = ", ".join(map(str, self.addresses))
        return f"<aioipc.Server {where} {state}, {len(self._tasks)} connections>"

    @property
    def connection_count(self) -> int:
        """How many connections are being handled now."""
        return len(self._tasks)

    # ----------------------------------------------------------------- accepting

    def _accepted(self, conn: socket.socket, address: Address) -> None:
        if self._allow_uids is not None:
            try:
                credentials = peer_credentials(conn)
            except OSError as error:
                logger.warning(
                    "connection on %s dropped: no peer credentials (%s)", address, error
                )
                conn.close()
                return
            if credentials.uid not in self._allow_uids:
                logger.warning(
                    "refused connection on %s from pid %d uid %d: uid not in allow_uids",
                    address,
                    credentials.pid,
                    credentials.uid,
                )
                conn.close()
                return
        task = self._loop.create_task(self._serve_connection(conn, address))
        self._tasks.add(task)
        task.add_done_callback(self._connection_done)
        if self._max_connections is not None and len(self._tasks) >= self._max_connections:
            self._listener.pause()

    def _connection_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._max_connections is not None and len(self._tasks) < self._max_connections:
            self._listener.resume()

    async def _serve_connection(self, conn: socket.socket, address: Address) -> None:
        try:
            stream = await Stream.from_socket(conn)
        except Exception as error:  # from_socket has closed conn
            logger.info("connection on %s lost before it was served: %s", address, error)
            return
        try:
            await self._handler(stream)
        except asyncio.CancelledError:
            await _close_now(stream)
            raise
        except anyio.EndOfStream:
            pass  # the handler read past the client's end: the client left
        except anyio.BrokenResourceError as error:
            logger.info("connection on %s from %s lost: %s", address, describe_peer(stream), error)
        except Exception:
            logger.exception(
                "handler failed on connection to %s from %s", address, describe_peer(stream)
            )
        await stream.aclose()

    # ----------------------------------------------------------------- closing

    def _stops(self, task: asyncio.Task[object] | None) -> bool:
        return task in self._tasks

    async def _shutdown(self, drain_timeout: float | None) -> None:
        self._stop_listening()
        if self._tasks and drain_timeout != 0:
            await asyncio.wait(set(self._tasks), timeout=drain_timeout)
        pending = set(self._tasks)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


async def _close_now(stream: Stream) -> None:
    """Close ``stream`` dropping unsent output: a cancelled handler's peer may never read.

    ``aclose()`` flushes, and aborts instead when the flush is cancelled; a deadline
    that has already passed cancels it at its first wait.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0):
            await stream.aclose()


def check_allow_uids(allow_uids: Iterable[int] | None) -> frozenset[int] | None:
    """Validate ``serve(allow_uids=…)``.

    Raises:
        TypeError: not an iterable of ints.
        ValueError: a negative uid.
    """
    if allow_uids is None:
        return None
    if isinstance(allow_uids, (str, bytes)) or not isinstance(allow_uids, Iterable):
        raise TypeError(f"allow_uids must be an iterable of uids, not {allow_uids!r}")
    uids = frozenset(allow_uids)
    for uid in uids:
        if isinstance(uid, bool) or not isinstance(uid, int):
            raise TypeError(f"allow_uids must hold ints, not {uid!r}")
        if uid < 0:
            raise ValueError(f"allow_uids: {uid} is not a uid")
    return uids
