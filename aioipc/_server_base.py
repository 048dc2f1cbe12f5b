"""The lifecycle every stream server shares: listening sockets, ``close()``, ``async with``.

:func:`aioipc.serve`'s :class:`aioipc.Server`, :func:`aioipc.serve_forking`'s
``ForkingServer`` and :func:`aioipc.serve_prefork`'s ``PreforkServer`` have one surface
-- ``addresses``, ``sockets``, ``is_serving``, ``await close(drain_timeout=…)``,
``await serve_forever()``, ``async with`` -- with the same defaults and the same rules,
so :class:`ServerBase` implements it once and each server only says what closing has
to stop (handler tasks, children per connection, or worker processes) as
``_shutdown``.  The rules:

* closing runs once, as its own task, and runs to its end even when the caller is
  cancelled (the cancellation is re-raised afterwards): half a shutdown would leave
  tasks or processes behind;
* it stops accepting and closes the listening sockets (removing the Unix socket files
  made for them) first, then drains, then stops what is left;
* cancelling ``serve_forever()``, or leaving ``async with`` by an exception or a
  cancellation, closes with no drain: whoever is unwinding should not wait.

The server owns its listening sockets from the moment it is made; they come from
:func:`aioipc._listeners.open_listeners`.  The argument checks the servers share
(``drain_timeout``, connection and process limits) are here too.
"""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

from ._addresses import Address
from ._children import run_to_completion
from ._listeners import Listener, close_listening

__all__ = ["DEFAULT_DRAIN_TIMEOUT", "ServerBase", "check_drain_timeout", "check_limit"]

#: Seconds :meth:`ServerBase.close` lets connections finish before stopping them.
DEFAULT_DRAIN_TIMEOUT = 5.0


def check_drain_timeout(value: float | None, name: str = "drain_timeout") -> float | None:
    """Validate a drain timeout: seconds >= 0; ``None`` or ``math.inf`` mean no limit.

    Raises:
        ValueError: a negative number, NaN or a non-number.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{name} must be None or a number of seconds >= 0, not {value!r}")
    return None if math.isinf(value) else float(value)


def check_limit(name: str, value: object) -> int | None:
    """Validate a count that may be ``None`` (no limit) or an int >= 1.

    Raises:
        TypeError: not an int (``bool`` included) nor None.
        ValueError: less than 1.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int or None, not {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")
    return value


class ServerBase:
    """The shared lifecycle: ``close()`` once, ``serve_forever()``, ``async with``.

    Subclasses implement ``_shutdown(drain_timeout)``, which should call
    :meth:`_stop_listening` first; ``_stop_listening`` runs again after it in any case.
    """

    def __init__(
        self, sockets: Sequence[tuple[socket.socket, Address]], *, unlink: bool = True
    ) -> None:
        """Take over ``sockets``; ``unlink=False`` never removes their Unix socket files."""
        self._sockets = list(sockets)
        self._unlink = unlink
        self._loop = asyncio.get_running_loop()
        self._active_listener: Listener | None = None
        self._closing = False
        self._sockets_closed = False
        self._close_task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        #: The drain ``async with`` gives when its block ends normally.
        self._exit_drain_timeout: float | None = DEFAULT_DRAIN_TIMEOUT

    @property
    def addresses(self) -> list[Address]:
        """Where the server listens: one :class:`aioipc.Address` per listening socket.

        A ``tcp://…:0`` address shows the port the kernel chose; a host name that
        resolves to IPv4 and IPv6 gives one address for each.
        """
        return [address for _, address in self._sockets]

    @property
    def sockets(self) -> list[socket.socket]:
        """The listening sockets (empty once closed).  The server owns them."""
        return [] if self._sockets_closed else [sock for sock, _ in self._sockets]

    @property
    def is_serving(self) -> bool:
        """Whether the server still serves (false once closing starts)."""
        return not self._closing

    def _start_accepting(self, on_accept: Callable[[socket.socket, Address], None]) -> Listener:
        """Start accepting on the sockets; :meth:`_stop_listening` stops it."""
        self._active_listener = Listener(self._sockets, on_accept)
        return self._active_listener

    def _stop_listening(self) -> None:
        """Stop accepting, remove the Unix socket files we created, close the sockets."""
        if self._active_listener is not None:
            self._active_listener.close()
        if self._sockets_closed:
            return
        self._sockets_closed = True
        close_listening((sock for sock, _ in self._sockets), unlink=self._unlink)

    async def close(self, drain_timeout: float | None = DEFAULT_DRAIN_TIMEOUT) -> None:
        """Stop accepting, let connections finish for ``drain_timeout`` seconds, stop the rest.

        The listening sockets are closed at once (Unix socket files the server created
        are removed, if they are still its own); connections not yet accepted are
        reset.  What runs after ``drain_timeout`` seconds (``None``: no limit, ``0``:
        none) is stopped -- handler tasks are cancelled, child processes signalled --
        and ``close`` returns when all of it has ended.  Idempotent: a second call
        waits for the first one's shutdown.  It runs to its end even when the caller
        is cancelled (the cancellation is re-raised afterwards).

        Raises:
            ValueError: ``drain_timeout`` is negative or not a number.
        """
        timeout = check_drain_timeout(drain_timeout)
        if self._close_task is None:
            self._closing = True
            # Before the first await, so that once close() has been entered no new
            # connection can reach the backlog (the docs promise "at once").
            self._stop_listening()
            self._close_task = self._loop.create_task(self._close(timeout))
        if self._stops(asyncio.current_task()):
            # The caller is one of the tasks the close drains and then cancels (a
            # handler closing its own server): waiting here to the end would wait for
            # itself.  Its cancellation ends this wait; the close goes on regardless.
            await self._join()
        else:
            await run_to_completion(self._join())

    async def _join(self) -> None:
        assert self._close_task is not None
        await asyncio.shield(self._close_task)

    async def _close(self, drain_timeout: float | None) -> None:
        try:
            await self._shutdown(drain_timeout)
        finally:
            self._stop_listening()
            self._closed.set()

    async def _shutdown(self, drain_timeout: float | None) -> None:
        raise NotImplementedError

    def _stops(self, task: asyncio.Task[object] | None) -> bool:
        """Whether ``task`` is one that ``_shutdown`` waits for and cancels."""
        return False

    async def serve_forever(self) -> None:
        """Wait until the server is closed, by :meth:`close` from another task.

        Cancelling ``serve_forever`` closes the server with no drain and then re-raises
        the cancellation.
        """
        try:
            await self._closed.wait()
        except asyncio.CancelledError:
            await self.close(drain_timeout=0)
            raise

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Left normally: drain as close() does; left by an error or a cancellation:
        # whoever is unwinding should not wait for connections.
        await self.close(self._exit_drain_timeout if exc_type is None else 0)
