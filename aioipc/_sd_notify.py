"""``sd_notify`` and the watchdog, without libsystemd: one datagram per message.

The protocol (systemd's ``sd_notify(3)``): the manager puts the address of a Unix
datagram socket in ``$NOTIFY_SOCKET`` -- an absolute path, or ``@name`` for an abstract
socket -- and the service sends it newline-separated ``NAME=value`` assignments.

Why :func:`notify` is synchronous: it is one ``sendto`` of a few bytes to a local
datagram socket, sent with ``MSG_DONTWAIT``, so it never waits, even when the manager
does not read (the kernel answers ``EAGAIN`` at once, which we report).  A coroutine
would only add an ``await`` and make it unusable from signal callbacks, ``atexit`` and
code that runs before a loop exists (``READY=1`` after a synchronous setup).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import re
import socket
import time
from collections.abc import AsyncIterator

from ._errors import NotifyError

__all__ = ["notify", "notify_socket_address", "watchdog", "watchdog_interval"]

logger = logging.getLogger("aioipc.systemd")

_FIELD_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")


def notify_socket_address() -> str | bytes | None:
    """The address in ``$NOTIFY_SOCKET`` as :meth:`socket.socket.sendto` takes it.

    ``None`` when the variable is unset or empty (not run by a service manager); an
    ``@name`` (abstract) address becomes ``b"\\0name"``.

    Raises:
        NotifyError: the variable holds something other than an absolute path or an
            ``@name`` (for instance systemd's ``vsock:`` addresses, not supported).
    """
    raw = os.environ.get("NOTIFY_SOCKET", "")
    if not raw:
        return None
    if raw.startswith("@") and len(raw) > 1:
        return b"\0" + os.fsencode(raw[1:])
    if raw.startswith("/"):
        return raw
    raise NotifyError(
        errno.EAFNOSUPPORT,
        f"NOTIFY_SOCKET={raw!r} is neither an absolute path nor an @abstract name",
        raw,
    )


def _encode(fields: dict[str, object]) -> bytes:
    if not fields:
        raise ValueError("notify() needs at least one field, e.g. notify(READY=1)")
    lines = []
    for name, value in fields.items():
        if not _FIELD_NAME.match(name):
            raise ValueError(
                f"notify() field name {name!r} is not an upper-case name like READY or STATUS"
            )
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise TypeError(
                f"notify() field {name} must be a str or an int, not {type(value).__name__}"
            )
        text = str(value)
        if "\n" in text or "\0" in text:
            raise ValueError(
                f"notify() field {name}={text!r} contains a newline or NUL, "
                "which would end the assignment early"
            )
        lines.append(f"{name}={text}")
    return "\n".join(lines).encode()


def notify(**fields: str | int) -> bool:
    """Tell the service manager about this service's state (``sd_notify``).

    ::

        aioipc.systemd.notify(READY=1, STATUS="serving on port 8080")
        aioipc.systemd.notify(RELOADING=1)   # MONOTONIC_USEC is added for you
        aioipc.systemd.notify(STOPPING=1)
        aioipc.systemd.notify(WATCHDOG=1)

    The fields are sent, in the order given, as one datagram to ``$NOTIFY_SOCKET``
    (a path, or ``@name`` for an abstract socket).  ``RELOADING=1`` without
    ``MONOTONIC_USEC`` gets the current ``CLOCK_MONOTONIC`` time in microseconds added,
    which systemd 253 and later require for ``Type=notify-reload``.  It never blocks:
    the datagram is sent with ``MSG_DONTWAIT``.

    Returns:
        ``True`` when the message was sent; ``False`` (and nothing done) when
        ``NOTIFY_SOCKET`` is not set, that is when no service manager listens.

    Raises:
        ValueError: no fields, a field name that is not upper-case letters, digits and
            ``_``, or a value containing a newline or NUL.
        TypeError: a value that is not a str or an int (``True`` included: write 1).
        NotifyError: the socket is gone or refuses (the manager stopped listening), the
            manager's queue is full, or ``NOTIFY_SOCKET`` is malformed; an
            :class:`OSError` naming the socket.
    """
    message: dict[str, object] = dict(fields)
    if str(message.get("RELOADING")) == "1" and "MONOTONIC_USEC" not in message:
        message["MONOTONIC_USEC"] = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    data = _encode(message)
    address = notify_socket_address()
    if address is None:
        return False
    raw = os.environ["NOTIFY_SOCKET"]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(data, socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL, address)
        except OSError as error:
            code = error.errno or errno.EIO
            why = os.strerror(code)
            if code == errno.EAGAIN:
                why += " (the service manager is not reading its notification socket)"
            raise NotifyError(
                code, f"cannot notify the service manager at NOTIFY_SOCKET={raw!r}: {why}", raw
            ) from error
    return True


def watchdog_interval() -> float | None:
    """The watchdog timeout the manager set, in seconds, or ``None`` if there is none.

    Read from ``WATCHDOG_USEC``.  When ``WATCHDOG_PID`` is set it must be this process's
    pid, otherwise the watchdog is meant for another process (the one the manager
    started, which then started us) and the answer is ``None``.  The variables are
    left in the environment.

    Raises:
        ValueError: ``WATCHDOG_USEC`` is not a positive integer, or ``WATCHDOG_PID``
            not a positive integer; the message quotes the variable.
    """
    usec_text = os.environ.get("WATCHDOG_USEC")
    if usec_text is None:
        return None
    pid_text = os.environ.get("WATCHDOG_PID")
    if pid_text is not None:
        if not pid_text.isdigit() or int(pid_text) <= 0:
            raise ValueError(f"WATCHDOG_PID={pid_text!r} is not a process id")
        if int(pid_text) != os.getpid():
            return None
    if not usec_text.isdigit() or int(usec_text) <= 0:
        raise ValueError(f"WATCHDOG_USEC={usec_text!r} is not a positive number of microseconds")
    return int(usec_text) / 1_000_000


#: How the watchdog task waits between pings (a module global, so that a test can
#: record the period it is asked to wait instead of measuring the clock).
_sleep = asyncio.sleep


async def _ping_forever(period: float) -> None:
    while True:
        try:
            notify(WATCHDOG=1)
        except NotifyError as error:
            # Stopping would get us killed for a transient EAGAIN; keep trying and say so.
            logger.error("watchdog ping failed: %s", error)
        await _sleep(period)


@contextlib.asynccontextmanager
async def watchdog() -> AsyncIterator[float | None]:
    """Ping the service manager's watchdog while the block runs.

    ::

        async with aioipc.systemd.watchdog():
            await server.serve_forever()

    With ``WatchdogSec=`` in the unit, the manager sets ``WATCHDOG_USEC`` and kills the
    service if ``WATCHDOG=1`` does not come within that time.  This sends
    ``WATCHDOG=1`` on entry and then every half of the interval, from a task on the
    running loop, so the pings stop when the loop stalls -- which is what the watchdog
    is for.  A failed ping is logged on the ``aioipc.systemd`` logger and retried at the
    next period.  Without a watchdog (or without ``NOTIFY_SOCKET``) the block runs and
    nothing is sent.

    Yields:
        the watchdog interval in seconds (see :func:`watchdog_interval`), or ``None``.

    Raises:
        ValueError: malformed ``WATCHDOG_USEC`` or ``WATCHDOG_PID``.
        NotifyError: malformed ``NOTIFY_SOCKET``.
    """
    interval = watchdog_interval()
    if interval is None or notify_socket_address() is None:
        yield interval
        return
    task = asyncio.get_running_loop().create_task(_ping_forever(interval / 2))
    try:
        yield interval
    finally:
        task.cancel()
        # wait() rather than await: a cancellation of ours must not be swallowed here.
        await asyncio.wait({task})
