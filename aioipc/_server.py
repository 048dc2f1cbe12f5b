"""Stream servers: listening sockets, the accept loop, and a task per connection.

Two layers, so that the forking and prefork servers can reuse the first:

* :func:`open_listeners` turns addresses (text, :class:`~aioipc._addresses.Address`
  or already-listening sockets, as systemd hands over) into listening sockets, and
  :class:`Listener` accepts on them.  It owns the sockets: ``close()`` stops accepting,
  unlinks the Unix socket files it created (only while they are still its own) and
  closes the sockets.  ``pause()``/``resume()`` stop and restart accepting without
  refusing anyone: connections wait in the kernel's backlog meanwhile.
* :class:`Server` runs an async handler in a task per accepted connection, with a
  connection limit, a uid allow-list for Unix sockets, logging of handler failures,
  and a graceful drain at close.

Why ``add_reader`` and a non-blocking ``accept()`` rather than ``loop.sock_accept``:
``sock_accept`` makes a future per connection and, on asyncio's default loop,
registers and unregisters the reader around every wait; here the reader stays
registered while accepting is on, and one wake-up accepts everything that is queued
(up to :data:`ACCEPTS_PER_WAKEUP`).  It also gives one place for pausing at the
connection limit and for backing off when ``accept()`` fails for want of fds
(``EMFILE``/``ENFILE``), where a level-triggered reader would otherwise spin.
``loop.create_server`` is not used because it cannot pause accepting and would make
the loop's own transports, where a Unix connection needs aioipc's fd-capable one.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType

import anyio
from anyio.abc import SocketAttribute

from ._addresses import Address, listen_stream, parse_address, unlink_unix_socket
from ._streams import PeerCredentials, Stream, StreamAttribute

__all__ = [
    "ACCEPTS_PER_WAKEUP",
    "DEFAULT_DRAIN_TIMEOUT",
    "Handler",
    "ListenSpec",
    "Listener",
    "Server",
    "address_of",
    "check_allow_uids",
    "check_listen_spec",
    "describe_peer",
    "open_listeners",
    "peer_credentials",
]

logger = logging.getLogger("aioipc.serve")

#: What a stream server runs for each connection.
Handler = Callable[[Stream], Awaitable[None]]
#: What a server may listen on: an address, as text or parsed, or a listening socket.
ListenSpec = str | Address | socket.socket

#: How many connections one wake-up of the accept loop takes at most, before letting
#: the loop run other callbacks.
ACCEPTS_PER_WAKEUP = 128
#: Seconds :meth:`Server.close` lets handlers run before cancelling them.
DEFAULT_DRAIN_TIMEOUT = 5.0
#: First and longest pause after ``accept()`` failed for want of resources.
_FIRST_BACKOFF = 0.05
_LONGEST_BACKOFF = 1.0
#: accept() failed for this process or the system, not for one connection: back off.
_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_CREDENTIALS = struct.Struct("3i")


# ------------------------------------------------------------------ listening sockets


def check_listen_spec(spec: object) -> None:
    """Check one ``*addresses`` item of :func:`serve` before anything is opened.

    Raises:
        TypeError: ``spec`` is not text, an Address or a socket.
        ValueError: a malformed address, a datagram address, or a socket that is not
            a listening stream socket of a family aioipc serves.
    """
    if isinstance(spec, socket.socket):
        if spec.fileno() < 0:
            raise ValueError(f"{spec!r} is closed")
        if spec.type != socket.SOCK_STREAM:
            raise ValueError(f"socket fd {spec.fileno()} is not a SOCK_STREAM socket")
        if spec.family not in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX):
            raise ValueError(f"socket fd {spec.fileno()} is {spec.family!r}, not TCP or Unix")
        if not spec.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            raise ValueError(f"socket fd {spec.fileno()} is not listening (call listen())")
        return
    if not isinstance(spec, (str, Address)):
        raise TypeError(
            f"addresses must be str, aioipc.Address or socket.socket, not {type(spec).__name__}"
        )
    address = parse_address(spec)
    if address.socket_type != socket.SOCK_STREAM:
        raise ValueError(f"{address} is a datagram address; servers need tcp:// or unix:")


def address_of(sock: socket.socket) -> Address:
    """The :class:`Address` a listening socket is bound to (its real port, its path)."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        if isinstance(name, bytes):  # abstract: a leading NUL, returned as bytes
            return Address("unix", path=name.decode(errors="surrogateescape"))
        return Address("unix", path=name or None)
    return Address("tcp", name[0], name[1])


async def open_listeners(
    specs: Sequence[ListenSpec], *, backlog: int, unix_mode: int
) -> list[tuple[socket.socket, Address]]:
    """Open a listening socket (or two: IPv4 and IPv6) for each of ``specs``.

    Sockets handed in are used as they are (made non-blocking); addresses are bound
    with :func:`~aioipc._addresses.listen_stream`.  If any fails, everything opened
    so far is closed (and its Unix socket file removed) before the error propagates.

    Raises:
        ValueError, FileExistsError, OSError: as ``listen_stream``.
    """
    opened: list[tuple[socket.socket, Address]] = []
    try:
        for spec in specs:
            if isinstance(spec, socket.socket):
                spec.setblocking(False)
                opened.append((spec, address_of(spec)))
                continue
            address = parse_address(spec)
            for sock in await listen_stream(address, backlog=backlog, unix_mode=unix_mode):
                opened.append((sock, address if address.is_unix else address_of(sock)))
    except BaseException:
        for sock, _ in opened:
            if not any(sock is spec for spec in specs):
                unlink_unix_socket(sock)
                sock.close()
        raise
    return opened


class Listener:
    """Accepts connections on listening sockets and hands each to ``on_accept``.

    ``on_accept(conn, address)`` is called in the loop with the accepted socket
    (non-blocking, close-on-exec; the callee owns it) and the :class:`Address` of the
    listening socket it came in on.  The listener owns the listening sockets.
    """

    def __init__(
        self,
        sockets: Sequence[tuple[socket.socket, Address]],
        on_accept: Callable[[socket.socket, Address], None],
    ) -> None:
        """Start accepting on ``sockets`` at once (call from within the running loop)."""
        self._loop = asyncio.get_running_loop()
        self._sockets = list(sockets)
        self._on_accept = on_accept
        self._paused = False
        self._closed = False
        self._registered = False
        self._backoff = _FIRST_BACKOFF
        self._backoff_timer: asyncio.TimerHandle | None = None
        self._register()

    @property
    def sockets(self) -> list[socket.socket]:
        """The listening sockets (empty once closed)."""
        return [] if self._closed else [sock for sock, _ in self._sockets]

    @property
    def addresses(self) -> list[Address]:
        """The address of each listening socket, with the port it really got."""
        return [address for _, address in self._sockets]

    @property
    def accepting(self) -> bool:
        """Whether new connections are being accepted now."""
        return self._registered

    def pause(self) -> None:
        """Stop accepting; new connections wait in the backlog (none is refused)."""
        self._paused = True
        self._unregister()

    def resume(self) -> None:
        """Accept again after :meth:`pause`."""
        self._paused = False
        if self._backoff_timer is None:
            self._register()

    def close(self) -> None:
        """Stop accepting, remove the Unix socket files we created, close the sockets.

        Idempotent.  Connections still in the backlog are reset by the kernel.
        """
        if self._closed:
            return
        self._closed = True
        self._unregister()
        if self._backoff_timer is not None:
            self._backoff_timer.cancel()
            self._backoff_timer = None
        for sock, _ in self._sockets:
            unlink_unix_socket(sock)
            sock.close()

    def _register(self) -> None:
        if self._registered or self._closed or self._paused:
            return
        for sock, address in self._sockets:
            self._loop.add_reader(sock.fileno(), self._accept, sock, address)
        self._registered = True

    def _unregister(self) -> None:
        if not self._registered:
            return
        for sock, _ in self._sockets:
            self._loop.remove_reader(sock.fileno())
        self._registered = False

    def _accept(self, sock: socket.socket, address: Address) -> None:
        for _ in range(ACCEPTS_PER_WAKEUP):
            if not self._registered:
                return  # on_accept paused us, or closed the listener
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in _RESOURCE_ERRORS:
                    self._back_off(address, error)
                    return
                # ECONNABORTED, EPROTO, EPERM (a firewall), …: that connection is
                # gone, the listening socket is fine.
                logger.info("accept on %s failed: %s", address, error)
                continue
            self._backoff = _FIRST_BACKOFF
            conn.setblocking(False)
            self._on_accept(conn, address)

    def _back_off(self, address: Address, error: OSError) -> None:
        logger.warning(
            "accept on %s failed: %s; not accepting for %.2f s",
            address,
            error,
            self._backoff,
        )
        self._unregister()
        self._backoff_timer = self._loop.call_later(self._backoff, self._end_backoff)
        self._backoff = min(self._backoff * 2, _LONGEST_BACKOFF)

    def _end_backoff(self) -> None:
        self._backoff_timer = None
        self._register()


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


class Server:
    """A running stream server, as :func:`aioipc.serve` returns it.

    Each accepted connection becomes a :class:`aioipc.Stream` and runs the handler in
    its own task.  Leaving ``async with server`` closes it (see :meth:`close`);
    :meth:`serve_forever` waits until it is closed.
    """

    def __init__(
        self,
        handler: Handler,
        sockets: Sequence[tuple[socket.socket, Address]],
        *,
        max_connections: int | None = None,
        allow_uids: frozenset[int] | None = None,
    ) -> None:
        """Made by :func:`aioipc.serve`; takes over ``sockets`` and starts accepting."""
        self._handler = handler
        self._max_connections = max_connections
        self._allow_uids = allow_uids
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.get_running_loop()
        self._closing: asyncio.Task[None] | None = None
        self._closed = self._loop.create_future()
        self._listener = Listener(sockets, self._accepted)

    def __repr__(self) -> str:
        state = "closed" if self._closing is not None else "serving"
        where = ", ".join(map(str, self.addresses))
        return f"<aioipc.Server {where} {state}, {len(self._tasks)} connections>"

    @property
    def addresses(self) -> list[Address]:
        """Where the server listens: one :class:`Address` per listening socket.

        A ``tcp://…:0`` address shows the port the kernel chose; a host name that
        resolves to IPv4 and IPv6 gives one address for each.
        """
        return self._listener.addresses

    @property
    def sockets(self) -> list[socket.socket]:
        """The listening sockets (empty once closed).  The server owns them."""
        return self._listener.sockets

    @property
    def connection_count(self) -> int:
        """How many connections are being handled now."""
        return len(self._tasks)

    @property
    def is_serving(self) -> bool:
        """Whether the server still accepts connections (false once closing starts)."""
        return self._closing is None

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

    async def close(self, drain_timeout: float | None = DEFAULT_DRAIN_TIMEOUT) -> None:
        """Stop accepting, let handlers finish for ``drain_timeout`` seconds, then cancel them.

        The listening sockets are closed at once (Unix socket files aioipc created
        are removed, if they are still ours); connections not yet accepted are reset.
        Handlers still running after ``drain_timeout`` seconds (``None``: no limit,
        ``0``: none) are cancelled, and ``close`` returns when every one has ended.
        Idempotent; a second call waits for the first to finish.  Cancelling the
        caller does not interrupt the close.

        Raises:
            ValueError: ``drain_timeout`` is negative or not a number.
        """
        if drain_timeout is not None and (
            isinstance(drain_timeout, bool)
            or not isinstance(drain_timeout, int | float)
            or drain_timeout < 0
        ):
            raise ValueError(
                f"drain_timeout must be None or a number of seconds >= 0, not {drain_timeout!r}"
            )
        if self._closing is None:
            self._closing = self._loop.create_task(self._close(drain_timeout))
        await asyncio.shield(self._closing)

    async def _close(self, drain_timeout: float | None) -> None:
        try:
            self._listener.close()
            if self._tasks and drain_timeout != 0:
                await asyncio.wait(set(self._tasks), timeout=drain_timeout)
            pending = set(self._tasks)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        finally:
            if not self._closed.done():
                self._closed.set_result(None)

    async def serve_forever(self) -> None:
        """Wait until the server is closed, by :meth:`close` from another task.

        Cancelling ``serve_forever`` closes the server with no drain (handlers are
        cancelled at once) and then re-raises the cancellation.
        """
        try:
            await asyncio.shield(self._closed)
        except asyncio.CancelledError:
            await self.close(drain_timeout=0)
            raise

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Left normally: drain as close() does; left by an error or a cancellation:
        # whoever is unwinding should not wait for handlers.
        await self.close(DEFAULT_DRAIN_TIMEOUT if exc_type is None else 0)


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
