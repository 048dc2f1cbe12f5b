"""TCP and Unix-domain clients and servers: :func:`connect` and :func:`serve`.

perlipc's "Sockets: Client/Server Communication" and "TCP Clients with IO::Socket":
one address syntax (see :mod:`aioipc._addresses`), and every connection an
:class:`aioipc.Stream`.  Internet streams end lines with ``\\r\\n`` and accept ``\\n``
or ``\\r\\n`` (perlipc's "Internet Line Terminators"); Unix streams use ``\\n``.

This module is the public front: it checks the arguments (so mistakes show when
``connect``/``serve`` is called, before anything is opened) and returns an awaitable
that is also an async context manager.  The server itself is
:class:`aioipc._server.Server`, on the sockets :mod:`aioipc._listeners` opens.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable

from ._addresses import Address, open_stream_socket, parse_address
from ._errors import IPCTimeoutError
from ._listeners import ListenSpec, check_listen_args, open_listeners
from ._process import _Opener
from ._server import Handler, Server, check_allow_uids
from ._server_base import check_limit
from ._streams import Stream

__all__ = ["connect", "serve"]


def connect(
    address: str | Address | None = None,
    *,
    host: str | None = None,
    port: int | str | None = None,
    timeout: float | None = None,
    eol: bytes | None = None,
) -> _Opener[Stream]:
    """Connect to a TCP or Unix stream server and return the connection as a Stream.

    ``stream = await aioipc.connect("tcp://localhost:13")``, or
    ``async with aioipc.connect("unix:/run/app.sock") as stream:`` to close it at the
    end of the block.  ``address`` takes every form of the address syntax
    (``tcp://host:port``, ``tcp://[::1]:port``, ``unix:/path``, ``unix:@name``);
    ``host`` and ``port`` build a TCP address instead (IO::Socket's ``PeerAddr`` and
    ``PeerPort``), and ``port`` may be a number, a service name or ``"daytime(13)"``.
    A name that resolves to several addresses is tried in order.  TCP connections
    get ``TCP_NODELAY`` and send lines ending ``\\r\\n``; ``eol`` changes that.

    Args:
        address: where to connect.
        host, port: a TCP address, instead of ``address`` or to complete it.
        timeout: seconds for the whole connect, name lookup included; ``None``
            waits as long as the kernel does.
        eol: what :meth:`Stream.send_line` ends lines with (``b"\\r\\n"`` on TCP,
            ``b"\\n"`` on Unix sockets unless given).

    Raises:
        ValueError: a malformed address (the message quotes the bad part), a
            datagram address, a bad ``timeout`` or ``eol``.
        TypeError: ``address``, ``host`` or ``port`` of the wrong type.
        aioipc.IPCTimeoutError: no connection within ``timeout`` seconds (also a
            ``TimeoutError``); the message names the address.
        ConnectionRefusedError: nothing listens there; the message names the address.
        OSError: any other failure to resolve or connect (``socket.gaierror`` for an
            unknown host, ``FileNotFoundError`` for a missing Unix socket), naming the
            address.
    """
    parsed = parse_address(address, host=host, port=port)
    if parsed.socket_type != socket.SOCK_STREAM:
        raise ValueError(f"{parsed} is a datagram address; use aioipc.open_datagram()")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise ValueError(f"timeout must be None or a number of seconds > 0, not {timeout!r}")
    if eol is not None and eol not in (b"\n", b"\r\n"):
        raise ValueError(f"eol must be b'\\n' or b'\\r\\n', not {eol!r}")

    async def start() -> Stream:
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                sock = await open_stream_socket(parsed)
                return await Stream.from_socket(sock, eol=eol)
        except TimeoutError:
            if deadline.expired():
                raise IPCTimeoutError(
                    f"connect to {parsed}: no connection within {timeout} s"
                ) from None
            raise

    return _Opener(start)


def serve(
    handler: Handler,
    *addresses: ListenSpec,
    backlog: int = 128,
    max_connections: int | None = None,
    unix_mode: int = 0o600,
    allow_uids: Iterable[int] | None = None,
) -> _Opener[Server]:
    """Listen on ``addresses`` and run ``await handler(stream)`` for each connection.

    ``server = await aioipc.serve(handler, "tcp://127.0.0.1:0")``, or
    ``async with aioipc.serve(handler, "unix:/run/app.sock") as server:`` to close it
    at the end of the block.  Each connection runs in its own task; the stream is
    closed when the handler returns.  A handler's exception is logged on the
    ``aioipc.serve`` logger with the peer, and the server goes on: an
    :class:`anyio.EndOfStream` (the client left) is not logged, a lost connection
    (:class:`anyio.BrokenResourceError`) is logged at INFO, anything else at ERROR
    with its traceback.

    Args:
        handler: ``async def handler(stream: aioipc.Stream) -> None``.  The peer is
            ``stream.extra(anyio.abc.SocketAttribute.remote_address)``; on Unix
            sockets ``stream.extra(aioipc.StreamAttribute.peer_credentials)`` gives
            its pid, uid and gid.
        addresses: one or more ``tcp://``/``unix:`` addresses (text or
            :class:`Address`), or sockets already listening (systemd socket
            activation): those are used as they are, owned and closed by the server,
            and their files never unlinked.  ``tcp://host:0`` gets a free port:
            read it from ``server.addresses``.
        backlog: the ``listen()`` backlog of the sockets opened here.
        max_connections: at most this many connections are handled at once; at the
            limit the server stops accepting (new clients wait in the backlog, none is
            refused) until one ends.
        unix_mode: the permissions of Unix socket files created here (``0o600``:
            only our user may connect), exactly, whatever the umask.  A stale socket
            file at the path is replaced; anything else there is an error.
        allow_uids: on Unix sockets, only peers running as one of these uids are
            served; others are disconnected at once and logged.

    Raises:
        ValueError: no address, a malformed or datagram address, a socket that is not
            listening, ``allow_uids`` with a TCP address (TCP has no peer
            credentials), or a bad ``backlog``, ``max_connections`` or ``unix_mode``.
        TypeError: ``handler`` is not callable, or an argument of the wrong type.
        FileExistsError: a Unix socket path holds something other than a stale socket
            (a live server, a file, a symlink, a directory); nothing was removed.
        OSError: binding or listening failed (the message names the address).
    """
    if not callable(handler):
        raise TypeError(f"handler must be an async function, not {type(handler).__name__}")
    if not addresses:
        raise ValueError("serve() needs at least one address to listen on")
    check_listen_args("serve", addresses, backlog, unix_mode)
    check_limit("max_connections", max_connections)
    uids = check_allow_uids(allow_uids)
    if uids is not None:
        for spec in addresses:
            family = spec.family if isinstance(spec, socket.socket) else None
            internet = family in (socket.AF_INET, socket.AF_INET6) or (
                family is None and not parse_address(spec).is_unix  # type: ignore[arg-type]
            )
            if internet:
                raise ValueError(f"allow_uids needs Unix sockets: {spec} has no peer credentials")

    async def start() -> Server:
        sockets = await open_listeners(addresses, backlog=backlog, unix_mode=unix_mode)
        return Server(handler, sockets, max_connections=max_connections, allow_uids=uids)

    return _Opener(start)
