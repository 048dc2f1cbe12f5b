"""Socket activation (``sd_listen_fds``): take the sockets the service manager passed.

The protocol (systemd's ``sd_listen_fds(3)``): the manager opens the listening sockets
of a ``.socket`` unit, and starts the service with them as fds 3, 4, … and with
``LISTEN_FDS`` (how many), ``LISTEN_PID`` (the pid they are meant for: a child that
inherited the environment must not take them) and ``LISTEN_FDNAMES`` (colon-separated
names, ``FileDescriptorName=``, default ``unknown``).
"""

from __future__ import annotations

import fcntl
import os
import socket
import stat

__all__ = ["LISTEN_FDS_START", "listen_fds", "listen_fds_with_names"]

#: The first fd the manager passes (``SD_LISTEN_FDS_START``).
LISTEN_FDS_START = 3

_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


def _positive(name: str, text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"{name}={text!r} is not a positive integer")
    return int(text)


def _passed_fds() -> list[tuple[str, int]]:
    pid_text = os.environ.get("LISTEN_PID")
    count_text = os.environ.get("LISTEN_FDS")
    if pid_text is None or count_text is None:
        return []
    if _positive("LISTEN_PID", pid_text) != os.getpid():
        return []
    count = _positive("LISTEN_FDS", count_text)
    fds = list(range(LISTEN_FDS_START, LISTEN_FDS_START + count))
    names_text = os.environ.get("LISTEN_FDNAMES")
    if names_text is None:
        names = ["unknown"] * count
    else:
        names = names_text.split(":")
        if len(names) != count:
            raise ValueError(
                f"LISTEN_FDNAMES={names_text!r} names {len(names)} fds but LISTEN_FDS={count}"
            )
    for name, fd in zip(names, fds, strict=True):
        try:
            mode = os.fstat(fd).st_mode
        except OSError as error:
            raise ValueError(
                f"LISTEN_FDS={count} but fd {fd} ({name!r}) is not open: {error.strerror}"
            ) from error
        if not stat.S_ISSOCK(mode):
            raise ValueError(
                f"fd {fd} ({name!r}) passed by the service manager is not a socket "
                "(ListenFIFO= and similar are not supported)"
            )
    return list(zip(names, fds, strict=True))


def listen_fds_with_names(*, unset_environment: bool = True) -> list[tuple[str, socket.socket]]:
    """The sockets the service manager passed, each with its name, in fd order.

    Like :func:`listen_fds`, with each socket's name from ``LISTEN_FDNAMES``
    (``FileDescriptorName=`` in the ``.socket`` unit; ``"unknown"`` when the manager
    gave none).  Names need not be unique: ``dict`` them only if yours are.

    Raises:
        ValueError: as :func:`listen_fds`, or ``LISTEN_FDNAMES`` does not name exactly
            ``LISTEN_FDS`` fds.
    """
    try:
        passed = _passed_fds()
    finally:
        if unset_environment:
            for variable in _VARIABLES:
                os.environ.pop(variable, None)
    taken: list[tuple[str, socket.socket]] = []
    for name, fd in passed:
        # Our children must not inherit them: sd_listen_fds sets FD_CLOEXEC too.
        fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.fcntl(fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)
        taken.append((name, socket.socket(fileno=fd)))
    return taken


def listen_fds(*, unset_environment: bool = True) -> list[socket.socket]:
    """The listening sockets the service manager passed (socket activation).

    ::

        sockets = aioipc.systemd.listen_fds()
        async with aioipc.serve(handler, *(sockets or ["tcp://127.0.0.1:8080"])) as server:
            aioipc.systemd.notify(READY=1)
            await server.serve_forever()

    Reads ``LISTEN_FDS`` and ``LISTEN_PID``: when ``LISTEN_PID`` is this process's pid,
    fds 3 … 3 + ``LISTEN_FDS`` - 1 are wrapped in :class:`socket.socket` objects whose
    family and type are the real ones (TCP, UDP, Unix stream or datagram), with
    ``FD_CLOEXEC`` set.  Listening stream sockets can be given to :func:`aioipc.serve`
    as they are.  Without the variables, or when they are meant for another process,
    the list is empty.  The fds are yours from then on: close the sockets, or let the
    server close them.

    Args:
        unset_environment: remove ``LISTEN_PID``, ``LISTEN_FDS`` and ``LISTEN_FDNAMES``
            from the environment (the default), so children we start do not see them
            and a second call returns nothing.

    Raises:
        ValueError: a variable that is not a positive integer, an fd that is not open,
            or one that is not a socket; nothing is taken (the variables are still
            unset when asked).
    """
    return [sock for _, sock in listen_fds_with_names(unset_environment=unset_environment)]
