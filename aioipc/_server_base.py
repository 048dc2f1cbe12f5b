"""What the multi-process servers share: the lifecycle of :func:`aioipc.serve_forking`'s
and :func:`aioipc.serve_prefork`'s server objects.

Both have the surface of :func:`aioipc.serve`'s in-process server -- ``addresses``,
``await close(drain_timeout=…)``, ``await serve_forever()``, ``async with`` -- and differ
only in what closing has to stop (children per connection, or worker processes), which
each implements as ``_shutdown``.  Closing runs once, as its own task, and runs to its
end even when the caller is cancelled: half a shutdown would leave processes behind.
"""

from __future__ import annotations

import asyncio
import math
from types import TracebackType
from typing import Self

from ._addresses import Address
from ._children import run_to_completion
from ._listeners import Listeners
from ._process import DEFAULT_GRACE, _check_grace

__all__ = ["DEFAULT_DRAIN_TIMEOUT", "ServerBase", "check_drain_timeout"]

#: Seconds that ``close()`` lets running connections finish before stopping them.
DEFAULT_DRAIN_TIMEOUT = 10.0


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
        listeners: Listeners,
        *,
        drain_timeout: float | None,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._listeners = listeners
        self._default_drain = drain_timeout
        self._loop = loop
        self._closing = False
        self._close_task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    @property
    def addresses(self) -> list[Address]:
        """The addresses the server listens on, with the real port when port 0 was asked."""
        return list(self._listeners.addresses)

    def is_serving(self) -> bool:
        """True until :meth:`close` starts."""
        return not self._closing

    async def close(
        self, drain_timeout: float | None = DEFAULT_DRAIN_TIMEOUT, *, grace: float = DEFAULT_GRACE
    ) -> None:
        """Stop accepting, let running connections finish, stop what is left; idempotent.

        Runs to its end even when the caller is cancelled (the cancellation is re-raised
        afterwards).  A second call waits for the first one's shutdown, with its
        arguments.

        Raises:
            ValueError: a negative ``drain_timeout`` or ``grace``.
        """
        timeout = check_drain_timeout(drain_timeout)
        grace = _check_grace(grace)
        if self._close_task is None:
            self._closing = True
            self._close_task = self._loop.create_task(self._close(timeout, grace))
        await run_to_completion(self._join())

    async def _join(self) -> None:
        assert self._close_task is not None
        await asyncio.shield(self._close_task)

    async def _close(self, drain_timeout: float | None, grace: float) -> None:
        try:
            await self._shutdown(drain_timeout, grace)
        finally:
            self._closed.set()

    async def _shutdown(self, drain_timeout: float | None, grace: float) -> None:
        raise NotImplementedError

    async def serve_forever(self) -> None:
        """Wait until the server is closed.

        Cancelling it closes the server (with the ``drain_timeout`` the server was made
        with) before the cancellation goes on.
        """
        try:
            await self._closed.wait()
        except asyncio.CancelledError:
            await run_to_completion(self.close(self._default_drain))
            raise

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Left by an error: no point letting connections finish.
        await self.close(self._default_drain if exc_type is None else 0)
