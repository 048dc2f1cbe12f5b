"""What the multi-process servers share: arguments, listening sockets, lifecycle.

:func:`aioipc.serve_forking`'s and :func:`aioipc.serve_prefork`'s server objects have
the surface of :func:`aioipc.serve`'s in-process :class:`aioipc.Server` --
``addresses``, ``sockets``, ``is_serving``, ``await close(drain_timeout=…)``,
``await serve_forever()``, ``async with`` -- with the same defaults and the same rules
(cancelling ``serve_forever()`` closes without a drain; leaving the block by an error
too).  They differ only in what closing has to stop (children per connection, or
worker processes), which each implements as ``_shutdown``.  Closing runs once, as its
own task, and runs to its end even when the caller is cancelled: half a shutdown would
leave processes behind.  Listening sockets come from :mod:`aioipc._server`
(``open_listeners``), as ``serve()``'s do.
"""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from ._addresses import Address, unlink_unix_socket
from ._children import run_to_completion
from ._server import DEFAULT_DRAIN_TIMEOUT, check_listen_spec

__all__ = ["DEFAULT_DRAIN_TIMEOUT", "ServerBase", "check_drain_timeout", "check_listen_args"]


def check_listen_args(caller: str, address: object, backlog: object, unix_mode: object) -> None:
    """Check a server's address, ``backlog`` and ``unix_mode`` before anything opens.

    Raises:
        TypeError: ``address`` is not text, an Address or a socket.
        ValueError: a malformed or datagram address, a socket that is not a listening
            stream socket, a ``backlog`` that is not an int >= 0, a ``unix_mode`` that
            is not permission bits.
    """
    check_listen_spec(address)
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


def check_drain_timeout(value: float | None, name: str = "drain_timeout") -> float | None:
    """Validate a drain timeout: seconds >= 0; ``None`` or ``math.inf`` mean no limit.

    Raises:
        ValueError: a negative number, NaN or a non-number.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{name} must be a number of seconds >= 0 (or None), not {value!r}")
    return None if math.isinf(value) else float(value)


class ServerBase:
    """The shared lifecycle: ``close()`` once, ``serve_forever()``, ``async with``."""

    def __init__(
        self,
        sockets: Sequence[tuple[socket.socket, Address]],
        *,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._sockets = list(sockets)
        self._loop = loop
        self._closing = False
        self._sockets_closed = False
        self._close_task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

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

    def _close_sockets(self) -> None:
        """Remove the Unix socket files we created (if still ours), close the sockets."""
        if self._sockets_closed:
            return
        self._sockets_closed = True
        for sock, _ in self._sockets:
            unlink_unix_socket(sock)
            sock.close()

    async def close(self, drain_timeout: float | None = DEFAULT_DRAIN_TIMEOUT) -> None:
        """Stop accepting, let connections finish for ``drain_timeout`` seconds, stop the rest.

        ``None`` waits without a limit, ``0`` stops everything at once.  Idempotent: a
        second call waits for the first one's shutdown.  It runs to its end even when
        the caller is cancelled (the cancellation is re-raised afterwards).

        Raises:
            ValueError: ``drain_timeout`` is negative or not a number.
        """
        timeout = check_drain_timeout(drain_timeout)
        if self._close_task is None:
            self._closing = True
            self._close_task = self._loop.create_task(self._close(timeout))
        await run_to_completion(self._join())

    async def _join(self) -> None:
        assert self._close_task is not None
        await asyncio.shield(self._close_task)

    async def _close(self, drain_timeout: float | None) -> None:
        try:
            await self._shutdown(drain_timeout)
        finally:
            self._close_sockets()
            self._closed.set()

    async def _shutdown(self, drain_timeout: float | None) -> None:
        raise NotImplementedError

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
        await self.close(DEFAULT_DRAIN_TIMEOUT if exc_type is None else 0)
