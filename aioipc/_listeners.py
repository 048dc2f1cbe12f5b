"""Listening sockets and the accept loop, for every stream server aioipc runs.

One job: from the addresses a server is given to connections in hand.  The in-process
server (:func:`aioipc.serve`), the forking server and each prefork worker all listen
and accept the same way, so the rules live here once:

* :func:`check_listen_args` checks the addresses, ``backlog`` and ``unix_mode`` a
  server is called with, before anything is opened;
* :func:`open_listeners` turns addresses (text, :class:`~aioipc._addresses.Address`
  or already-listening sockets, as systemd hands over) into listening sockets, and
  :func:`close_listening` closes them again, removing the Unix socket files that were
  created for them (only while they are still those files);
* :class:`Listener` accepts on listening sockets it does not own.  ``pause()`` and
  ``resume()`` stop and restart accepting without refusing anyone: connections wait in
  the kernel's backlog meanwhile.  Who owns the sockets (a server's lifecycle,
  :class:`aioipc._server_base.ServerBase`) closes them after it closed the listener.

Why ``add_reader`` and a non-blocking ``accept()`` rather than ``loop.sock_accept``:
``sock_accept`` makes a future per connection and, on asyncio's default loop,
registers and unregisters the reader around every wait; here the reader stays
registered while accepting is on, and one wake-up accepts everything that is queued
(up to :data:`ACCEPTS_PER_WAKEUP`).  It also gives one place for pausing at a
connection limit and for backing off when ``accept()`` fails for want of fds
(``EMFILE``/``ENFILE``), where a level-triggered reader would otherwise spin.
``loop.create_server`` is not used because it cannot pause accepting and would make
the loop's own transports, where a Unix connection needs aioipc's fd-capable one.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable, Iterable, Sequence

from ._addresses import Address, listen_stream, parse_address, unlink_unix_socket
from ._streams import raw_family, raw_type

__all__ = [
    "ACCEPTS_PER_WAKEUP",
    "ListenSpec",
    "Listener",
    "address_of",
    "check_listen_args",
    "check_listen_spec",
    "close_listening",
    "open_listeners",
]

logger = logging.getLogger("aioipc.serve")

#: What a server may listen on: an address, as text or parsed, or a listening socket.
ListenSpec = str | Address | socket.socket

#: How many connections one wake-up of the accept loop takes at most, before letting
#: the loop run other callbacks.
ACCEPTS_PER_WAKEUP = 128
#: First and longest pause after ``accept()`` failed for want of resources.
_FIRST_BACKOFF = 0.05
_LONGEST_BACKOFF = 1.0
#: accept() failed for this process or the system, not for one connection: back off.
_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


# ------------------------------------------------------------------ arguments


def check_listen_spec(spec: object) -> None:
    """Check one address a server is to listen on, before anything is opened.

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


def check_listen_args(
    caller: str, specs: Iterable[object], backlog: object, unix_mode: object
) -> None:
    """Check a server's addresses, ``backlog`` and ``unix_mode`` before anything opens.

    Raises:
        TypeError: an address that is not text, an Address or a socket.
        ValueError: a malformed or datagram address, a socket that is not a listening
            stream socket, a ``backlog`` that is not an int >= 0, a ``unix_mode`` that
            is not permission bits.  Messages start with ``caller``.
    """
    for spec in specs:
        check_listen_spec(spec)
    if isinstance(backlog, bool) or not isinstance(backlog, int) or backlog < 0:
        raise ValueError(f"{caller}(): backlog must be an int >= 0, not {backlog!r}")
    if (
        isinstance(unix_mode, bool)
        or not isinstance(unix_mode, int)
        or not 0 <= unix_mode <= 0o777
    ):
        raise ValueError(
            f"{caller}(): unix_mode must be permission bits (0o000-0o777), not {unix_mode!r}"
        )


# ------------------------------------------------------------------ listening sockets


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
        close_listening(sock for sock, _ in opened if not any(sock is spec for spec in specs))
        raise
    return opened


def close_listening(sockets: Iterable[socket.socket], *, unlink: bool = True) -> None:
    """Close listening sockets, first removing the Unix socket files made for them.

    A file is removed only if it is still the one bound for that socket (see
    :func:`~aioipc._addresses.unlink_unix_socket`); sockets handed in already
    listening have none.  ``unlink=False`` leaves the files: a forked copy of a
    socket shares its file with the process that bound it.
    """
    for sock in sockets:
        if unlink:
            unlink_unix_socket(sock)
        sock.close()


# ------------------------------------------------------------------ accepting


class Listener:
    """Accepts connections on listening sockets and hands each to ``on_accept``.

    ``on_accept(conn, address)`` is called in the loop with the accepted socket
    (non-blocking, close-on-exec; the callee owns it) and the :class:`Address` of the
    listening socket it came in on.  The listener does not own the listening sockets:
    close it before closing them.
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
    def accepting(self) -> bool:
        """Whether new connections are being accepted now."""
        return self._registered

    def pause(self) -> None:
        """Stop accepting; new connections wait in the backlog (none is refused)."""
        self._paused = True
        self._unregister()

    def resume(self) -> None:
        """Accept again after :meth:`pause` (not after :meth:`close`)."""
        self._paused = False
        if self._backoff_timer is None:
            self._register()

    def close(self) -> None:
        """Stop accepting for good.  Idempotent; the sockets stay open."""
        if self._closed:
            return
        self._closed = True
        self._unregister()
        if self._backoff_timer is not None:
            self._backoff_timer.cancel()
            self._backoff_timer = None

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
                # socket.accept() reads the listener's family and type through their
                # enum-converting properties twice per connection; _accept() gives the
                # fd, and the new socket is made from the listener's plain ints.
                fd, _ = sock._accept()  # type: ignore[attr-defined]
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
            conn = socket.socket(raw_family(sock), raw_type(sock), sock.proto, fileno=fd)
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
