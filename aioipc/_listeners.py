"""The listening sockets of a multi-process server: opened, described, closed.

A server is given an address (text or :class:`aioipc.Address`), which
:func:`aioipc._addresses.listen_stream` binds -- one socket per resolved address, with
the real port when port 0 was asked for -- or an already-listening
:class:`socket.socket` (systemd socket activation, a socket inherited from a parent),
which is taken over as it is.  Either way the server owns the sockets from then on and
closes them when it closes; a Unix socket file is removed only when the server bound it
and it is still the same file.
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass

from ._addresses import Address, listen_stream, parse_address, unlink_unix_socket

__all__ = ["Listeners", "address_of", "open_listeners"]


@dataclass(slots=True)
class Listeners:
    """The listening sockets of one server and the addresses they are bound to."""

    sockets: list[socket.socket]
    addresses: list[Address]

    def close(self) -> None:
        """Remove the Unix socket files we bound (if still ours) and close the sockets."""
        for sock in self.sockets:
            unlink_unix_socket(sock)
            sock.close()


def address_of(sock: socket.socket) -> Address:
    """The :class:`Address` a listening stream socket is bound to (the real port).

    Raises:
        ValueError: the socket is of a family other than IPv4, IPv6 or Unix.
    """
    name = sock.getsockname()
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        return Address("tcp", host=name[0], port=name[1])
    if sock.family == socket.AF_UNIX:
        if isinstance(name, bytes):
            # Abstract names come back as bytes with their leading NUL.
            return Address("unix", path=os.fsdecode(name))
        return Address("unix", path=name)
    raise ValueError(f"a {sock.family!r} socket has no aioipc address")


def _check_listening(sock: socket.socket, caller: str) -> None:
    if sock.fileno() < 0:
        raise ValueError(f"{caller}(): the socket {sock!r} is closed")
    if sock.type != socket.SOCK_STREAM:
        raise ValueError(f"{caller}(): the socket must be SOCK_STREAM, not {sock.type!r}")
    if sock.family not in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX):
        raise ValueError(f"{caller}(): the socket must be IPv4, IPv6 or Unix, not {sock.family!r}")
    if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        raise ValueError(
            f"{caller}(): the socket {sock.getsockname()!r} is not listening; "
            "call listen() on it first, or pass an address"
        )


async def open_listeners(
    address: str | Address | socket.socket,
    *,
    backlog: int,
    unix_mode: int,
    caller: str,
) -> Listeners:
    """Bind and listen on ``address``, or take over an already-listening socket.

    Raises:
        TypeError: ``address`` is not text, an Address or a socket; ``backlog`` or
            ``unix_mode`` is not an int.
        ValueError: a malformed or datagram address, a bad ``backlog`` or ``unix_mode``,
            a socket that is not a listening stream socket.
        FileExistsError: the Unix path holds something that is not a stale socket.
        OSError: bind or listen failed.
    """
    for name, value in (("backlog", backlog), ("unix_mode", unix_mode)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{caller}(): {name} must be an int, not {value!r}")
    if backlog < 1:
        raise ValueError(f"{caller}(): backlog must be at least 1, not {backlog}")
    if not 0 <= unix_mode <= 0o7777:
        raise ValueError(
            f"{caller}(): unix_mode must be a file mode such as 0o600, not {unix_mode:#o}"
        )
    if isinstance(address, socket.socket):
        _check_listening(address, caller)
        address.setblocking(False)
        return Listeners([address], [address_of(address)])
    if not isinstance(address, str | Address):
        raise TypeError(
            f"{caller}(): address must be a str, an aioipc.Address or a listening "
            f"socket.socket, not {type(address).__name__}"
        )
    parsed = parse_address(address)
    if parsed.socket_type != socket.SOCK_STREAM:
        raise ValueError(
            f"{caller}(): {parsed} is a datagram address; a server needs tcp: or unix:"
        )
    sockets = await listen_stream(parsed, backlog=backlog, unix_mode=unix_mode)
    try:
        return Listeners(sockets, [address_of(sock) for sock in sockets])
    except BaseException:
        for sock in sockets:
            with contextlib.suppress(OSError):
                unlink_unix_socket(sock)
            sock.close()
        raise
