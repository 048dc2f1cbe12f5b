"""Accepting connections on listening sockets through the loop, with a pause.

The forking server (in the parent) and the prefork workers (each in its own process,
on the shared listening socket) accept the same way: the listening sockets are
non-blocking and registered with ``loop.add_reader``; each wake-up accepts until the
kernel says ``EAGAIN`` (another prefork worker may have taken the connection: that is
normal, not an error) or until the owner pauses the acceptor because it is at its
limit.  While paused, nothing is registered: new connections wait in the listen
backlog, exactly as they do for perlipc's server while it is busy forking.

Why accept never dies of a signal
=================================

perlipc's server must restart ``accept()`` when it returns ``EINTR`` because a SIGCHLD
interrupted it.  Here ``accept()`` never blocks -- it runs only when the socket is
readable -- so there is nothing for a signal to interrupt; Python retries an ``EINTR``
by itself (PEP 475), and ``InterruptedError`` is retried here as well in case a signal
handler's exception path ever hands it back.  Errors that concern one connection
(``ECONNABORTED``: the client gave up while queued; ``EPROTO``) skip that connection.
Running out of fds or memory (``EMFILE``, ``ENFILE``, ``ENOBUFS``, ``ENOMEM``) is logged
and accepting stops for a second instead of spinning on a socket that stays readable,
as asyncio's own servers do.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable, Sequence

__all__ = ["ACCEPT_RETRY_DELAY", "Acceptor"]

logger = logging.getLogger("aioipc.servers")

#: Seconds to stop accepting after the process ran out of fds or memory.
ACCEPT_RETRY_DELAY = 1.0

#: Errors that concern the connection being accepted only: skip it, accept the next.
_PER_CONNECTION = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM})
#: Errors that say the process (or the system) is out of a resource: back off.
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class Acceptor:
    """Accepts on ``sockets`` in ``loop`` and hands each connection to ``on_connection``.

    ``on_connection(conn, peer)`` owns the accepted socket (a blocking one, as the kernel
    makes it) and must not raise; an exception from it is logged and the connection
    closed.  :meth:`pause` and :meth:`resume` stop and restart accepting (they nest
    with the resource back-off: both must allow it); :meth:`stop` ends it for good.
    """

    def __init__(
        self,
        sockets: Sequence[socket.socket],
        on_connection: Callable[[socket.socket, object], None],
        *,
        loop: asyncio.AbstractEventLoop,
        burst: int = 128,
    ) -> None:
        self._sockets = list(sockets)
        self._on_connection = on_connection
        self._loop = loop
        self._burst = max(1, burst)
        self._paused = False
        self._stopped = False
        self._registered = False
        self._backoff: asyncio.TimerHandle | None = None

    @property
    def paused(self) -> bool:
        """True while the owner has paused accepting."""
        return self._paused

    def start(self) -> None:
        """Begin accepting (call once, in the loop's thread)."""
        self._update()

    def pause(self) -> None:
        """Stop accepting until :meth:`resume`; queued clients wait in the backlog."""
        self._paused = True
        self._update()

    def resume(self) -> None:
        """Accept again after :meth:`pause` (no-op when not paused or stopped)."""
        self._paused = False
        self._update()

    def stop(self) -> None:
        """Stop accepting for good.  The sockets stay open: they belong to the caller."""
        self._stopped = True
        if self._backoff is not None:
            self._backoff.cancel()
            self._backoff = None
        self._update()

    def _update(self) -> None:
        want = not (self._stopped or self._paused or self._backoff is not None)
        if want == self._registered:
            return
        for sock in self._sockets:
            if want:
                self._loop.add_reader(sock.fileno(), self._on_readable, sock)
            else:
                self._loop.remove_reader(sock.fileno())
        self._registered = want

    def _on_readable(self, sock: socket.socket) -> None:
        for _ in range(self._burst):
            if not self._registered:
                return  # paused or stopped by the previous connection's callback
            try:
                conn, peer = sock.accept()
            except BlockingIOError:
                return  # nothing queued, or another process took it
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno in _PER_CONNECTION:
                    continue
                self._back_off(sock, exc)
                return
            try:
                self._on_connection(conn, peer)
            except Exception:
                logger.exception("handling a connection from %r failed", peer)
                conn.close()

    def _back_off(self, sock: socket.socket, exc: OSError) -> None:
        reason = "out of resources" if exc.errno in _OUT_OF_RESOURCES else "unexpected error"
        logger.error(
            "accept() on %s failed (%s: %s); accepting again in %.0f s",
            _describe(sock),
            reason,
            exc,
            ACCEPT_RETRY_DELAY,
        )
        self._backoff = self._loop.call_later(ACCEPT_RETRY_DELAY, self._end_backoff)
        self._update()

    def _end_backoff(self) -> None:
        self._backoff = None
        self._update()


def _describe(sock: socket.socket) -> str:
    try:
        return repr(sock.getsockname())
    except OSError:
        return f"fd {sock.fileno()}"
