"""UDP and Unix datagram sockets: :func:`open_datagram` and :class:`DatagramSocket`.

perlipc's "UDP: Message Passing", the asyncio way.  A datagram socket is not a byte
stream, so it is not an :class:`aioipc.Stream`: each ``send`` is one message, each
``receive`` returns one whole message and the address it came from.

Why ``add_reader`` + ``recvfrom_into`` rather than ``loop.create_datagram_endpoint``:

* Truncation.  The endpoint's transports read with a fixed buffer (asyncio) or through
  libuv (uvloop) and hand the protocol a cut datagram without saying so.  Reading
  ourselves with ``MSG_TRUNC`` makes the kernel report a datagram's real size, so a
  datagram larger than ``max_size`` is reported (:class:`DatagramTruncated`), never
  silently cut.
* Back-pressure.  A datagram transport cannot pause reading: whatever arrives is pushed
  into the protocol, and a slow consumer's queue grows without bound.  Here the reader
  stops at :data:`READ_AHEAD` queued datagrams; after that the kernel's receive buffer
  holds the rest and drops what does not fit, which is what UDP does anyway.
* Unix datagram sockets on both loops, and one code path for both.
* Speed is no reason either way: ``benchmarks/datagram_pingpong.py`` measures 64-byte
  UDP ping-pong within 3% of the endpoint's on both loops (docs/datagrams.md).

A ``receive()`` that is cancelled takes nothing: datagrams stay in the queue (or in the
kernel) for the next call.  ECONNREFUSED (ICMP port unreachable, reported by the kernel
on a connected UDP socket, or a vanished Unix peer) is queued in the datagram's place
and raised by the next ``receive()``; the socket stays usable.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import functools
import socket
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self, TypeAlias

import anyio

from ._addresses import Address, bind_unix, parse_address, resolve, unlink_unix_socket
from ._errors import DatagramTooLarge, DatagramTruncated
from ._process import _Opener
from ._streams import DIRECT_READ_BUDGET

__all__ = [
    "READ_AHEAD",
    "DatagramSocket",
    "SockAddr",
    "open_datagram",
]

#: A raw socket address as the kernel reports it: ``(host, port)`` for IPv4,
#: ``(host, port, flowinfo, scope_id)`` for IPv6, a ``str`` path or ``bytes`` abstract
#: name (leading NUL) for Unix sockets, ``None`` for an unbound Unix sender.
SockAddr: TypeAlias = tuple[Any, ...] | str | bytes | None

#: How many received datagrams aioipc holds before it stops reading from the kernel.
READ_AHEAD = 64
#: Largest UDP payload: 65535 less the IPv4 (20) and UDP (8) headers; IPv6 has no
#: IP header inside its 16-bit payload length.
_UDP_LIMIT = {socket.AF_INET: 65535 - 20 - 8, socket.AF_INET6: 65535 - 8}
# A tuple and a plain int: isinstance() with a union type, and an IntFlag member, each
# cost a slow Python-level call on every datagram.
_BYTES_LIKE = (bytes, bytearray, memoryview)
_MSG_TRUNC = int(socket.MSG_TRUNC)
#: What the Linux Unix datagram code keeps of SO_SNDBUF for itself.
_UNIX_DGRAM_OVERHEAD = 32
#: First and longest pause between attempts to send to a full unconnected Unix peer.
_FIRST_RETRY = 0.001
_LONGEST_RETRY = 0.01

_Item: TypeAlias = tuple[bytes, SockAddr] | BaseException


def open_datagram(
    address: str | Address | None = None,
    *,
    remote: str | Address | None = None,
    broadcast: bool = False,
    max_size: int = 65536,
    unix_mode: int = 0o600,
) -> _Opener[DatagramSocket]:
    """Open a UDP or Unix datagram socket.

    ``sock = await aioipc.open_datagram("udp://127.0.0.1:0")``, or
    ``async with aioipc.open_datagram(...) as sock:`` to close it at the end of the
    block (``async with await aioipc.open_datagram(...)`` works too).

    ``address`` is where the socket is bound: ``udp://host:port`` (``udp://[::1]:0``,
    port 0 for any free port), ``unixgram:/path`` (created ``unix_mode``, removed on
    close if still ours) or ``unixgram:@name`` (Linux abstract).  ``remote`` connects
    the socket: :meth:`~DatagramSocket.send` may then omit the address, only the remote's
    datagrams are received, and a refusal (ICMP port unreachable) is reported.  With
    ``remote`` alone the socket is bound to a free port (UDP) or an automatic abstract
    name (Unix), so that replies can come back.

    Args:
        address: the local address to bind.
        remote: the peer to connect to (IO::Socket's ``PeerAddr``).
        broadcast: allow sending to broadcast addresses (``SO_BROADCAST``; IPv4 only).
        max_size: the largest datagram :meth:`~DatagramSocket.receive` returns whole;
            a larger one raises :class:`DatagramTruncated`.  65,536 holds any UDP
            datagram.
        unix_mode: permissions of a ``unixgram:/path`` socket file.

    Raises:
        ValueError: neither ``address`` nor ``remote``; a malformed address (the message
            quotes it); a stream address (``tcp://``, ``unix:``); ``address`` and
            ``remote`` of different kinds; ``broadcast`` on a non-IPv4 socket; a bad
            ``max_size`` or ``unix_mode``.
        TypeError: an argument of the wrong type.
        FileExistsError: the ``unixgram:`` path holds something other than a stale
            socket (nothing is removed).
        OSError: bind or connect failed, or a name did not resolve (the message names
            the address).
    """
    local = _parse_datagram_address(address, "address") if address is not None else None
    peer = _parse_datagram_address(remote, "remote") if remote is not None else None
    if local is None and peer is None:
        raise ValueError(
            "open_datagram() needs an address to bind (e.g. 'udp://127.0.0.1:0') "
            "or a remote to connect to, or both"
        )
    if local is not None and peer is not None and local.scheme != peer.scheme:
        raise ValueError(f"address {local} and remote {peer} are of different kinds")
    if not isinstance(broadcast, bool):
        raise TypeError(f"broadcast must be a bool, not {type(broadcast).__name__}")
    scheme = (local or peer).scheme  # type: ignore[union-attr]
    if broadcast and scheme != "udp":
        raise ValueError("broadcast=True needs a UDP socket; Unix datagrams have no broadcast")
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise ValueError(f"max_size must be an int >= 1, not {max_size!r}")
    if (
        isinstance(unix_mode, bool)
        or not isinstance(unix_mode, int)
        or not 0 <= unix_mode <= 0o777
    ):
        raise ValueError(f"unix_mode must be permission bits 0o000-0o777, not {unix_mode!r}")

    async def start() -> DatagramSocket:
        sock, connected = await _open_socket(local, peer, broadcast, unix_mode)
        return DatagramSocket(sock, remote=connected, max_size=max_size)

    return _Opener(start)


def _parse_datagram_address(address: str | Address, name: str) -> Address:
    if not isinstance(address, str | Address):
        raise TypeError(f"{name} must be a str or aioipc.Address, not {type(address).__name__}")
    parsed = parse_address(address, default_scheme="udp")
    if parsed.socket_type != socket.SOCK_DGRAM:
        raise ValueError(
            f"{name} {parsed} is a stream address; datagrams need udp:// or unixgram: "
            "(use aioipc.connect() or aioipc.serve() for streams)"
        )
    return parsed


async def _open_socket(
    local: Address | None, peer: Address | None, broadcast: bool, unix_mode: int
) -> tuple[socket.socket, Address | None]:
    if (local or peer).is_unix:  # type: ignore[union-attr]
        return _open_unix(local, peer, unix_mode)
    peers = await resolve(peer, passive=False) if peer is not None else []
    if local is not None:
        locals_ = await resolve(local, passive=True)
        if peers:
            families = {family for family, *_ in peers}
            matching = [info for info in locals_ if info[0] in families]
            if not matching:
                raise ValueError(f"address {local} and remote {peer} are of different families")
            locals_ = matching
        family, type_, proto, sockaddr = locals_[0]
    else:
        family, type_, proto, sockaddr = peers[0][0], peers[0][1], peers[0][2], None
    sock = socket.socket(family, type_ | socket.SOCK_CLOEXEC, proto)
    try:
        sock.setblocking(False)
        if broadcast:
            if family != socket.AF_INET:
                raise ValueError(f"broadcast=True needs IPv4; {local or peer} is IPv6")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        # Never SO_REUSEADDR on UDP: another user's socket could bind the same port
        # and take our datagrams (cpython#81409).
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if sockaddr is not None:
            try:
                sock.bind(sockaddr)
            except OSError as error:
                raise type(error)(error.errno, f"bind {local}: {error.strerror}") from None
        if peer is not None:
            last: OSError | None = None
            for peer_family, _, _, peer_sockaddr in peers:
                if peer_family != family:
                    continue
                try:
                    sock.connect(peer_sockaddr)
                except OSError as error:
                    last = error
                    continue
                break
            else:
                assert last is not None
                raise type(last)(last.errno, f"connect to {peer}: {last.strerror}")
    except BaseException:
        sock.close()
        raise
    return sock, peer


def _open_unix(
    local: Address | None, peer: Address | None, unix_mode: int
) -> tuple[socket.socket, Address | None]:
    if local is not None:
        sock = bind_unix(local, socket.SOCK_DGRAM, unix_mode=unix_mode)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    try:
        sock.setblocking(False)
        if local is None:
            # Linux autobind: an empty address gives the socket an abstract name, so a
            # server's reply to us has somewhere to go.
            sock.bind("")
        if peer is not None:
            assert peer.path is not None
            try:
                sock.connect(peer.path)
            except OSError as error:
                raise type(error)(error.errno, f"connect to {peer}: {error.strerror}") from None
    except BaseException:
        unlink_unix_socket(sock)
        sock.close()
        raise
    return sock, peer


class DatagramSocket:
    """A UDP or Unix datagram socket driven by the event loop.

    Made by :func:`open_datagram`.  ``await send(data, addr)`` sends one datagram,
    ``await receive()`` returns one as ``(data, addr)``, ``async for data, addr in
    sock`` receives until the socket is closed, and ``async with`` closes it.

    Receiving reads ahead at most :data:`READ_AHEAD` datagrams; a cancelled
    ``receive()`` takes none of them.  Several tasks may receive at once (each datagram
    goes to one of them) and send at once.
    """

    def __init__(
        self, sock: socket.socket, *, remote: Address | None = None, max_size: int = 65536
    ) -> None:
        self._sock = sock
        self._fd = sock.fileno()
        self._family = sock.family
        self._remote = remote
        self._max_size = max_size
        self._buffer = bytearray(max_size)
        self._view = memoryview(self._buffer)
        self._queue: collections.deque[_Item] = collections.deque()
        self._waiters: list[asyncio.Future[None]] = []
        self._write_waiters: list[asyncio.Future[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reading = False
        self._direct_budget = DIRECT_READ_BUDGET
        self._closed = False
        self._local = _local_address(sock)

    # -- properties -------------------------------------------------------------------

    @property
    def local_address(self) -> Address:
        """Where this socket is bound, with the real port (``udp://127.0.0.1:40312``)
        or the Unix name (an automatic one is ``unixgram:@`` and five hex digits)."""
        return self._local

    @property
    def remote_address(self) -> Address | None:
        """The peer given as ``remote=``, or ``None`` for an unconnected socket."""
        return self._remote

    @property
    def max_size(self) -> int:
        """The largest datagram :meth:`receive` returns whole."""
        return self._max_size

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` has been called."""
        return self._closed

    def fileno(self) -> int:
        """The socket's file descriptor (for ``setsockopt`` and the like; don't read it).

        Raises:
            anyio.ClosedResourceError: the socket was closed.
        """
        if self._closed:
            raise anyio.ClosedResourceError
        return self._fd

    # -- sending ----------------------------------------------------------------------

    async def send(self, data: bytes | bytearray | memoryview, addr: object = None) -> None:
        """Send ``data`` as one datagram to ``addr``, or to the remote when ``addr`` is None.

        ``addr`` may be an address string (``"udp://127.0.0.1:37"``,
        ``"unixgram:/run/x"``), an :class:`aioipc.Address`, or a raw socket address as
        :meth:`receive` returns it (a ``(host, port)`` tuple, a Unix path ``str`` or an
        abstract ``bytes`` name), so a reply goes back with ``send(reply, addr)``.
        Host names are resolved through the loop; literal addresses are not looked up.
        Sending waits only while the kernel has no room (a Unix peer whose queue is
        full); UDP never waits for the receiver.

        Raises:
            DatagramTooLarge: ``data`` exceeds what one datagram can carry (also a
                ``ValueError``); nothing was sent.
            ValueError: no ``addr`` on an unconnected socket; an address of the wrong
                kind or family for this socket.
            TypeError: ``data`` is not bytes-like, or ``addr`` of an unknown type.
            ConnectionRefusedError: the connected remote refused an earlier datagram
                (ICMP port unreachable) or nothing is bound at a Unix address.
            anyio.ClosedResourceError: the socket was closed.
            OSError: any other send failure, naming the destination.
        """
        if not isinstance(data, _BYTES_LIKE):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        if self._closed:
            raise anyio.ClosedResourceError
        if addr is None:
            if self._remote is None:
                raise ValueError(
                    "send() needs addr: this socket has no remote (open it with remote=...)"
                )
            target: SockAddr = None
        else:
            target = await self._sockaddr(addr)
        pause = _FIRST_RETRY
        while True:
            try:
                if target is None:
                    self._sock.send(data)
                else:
                    self._sock.sendto(data, target)
                return
            except BlockingIOError:
                pass
            except OSError as error:
                raise self._send_error(error, len(data), target) from None
            if self._closed:
                raise anyio.ClosedResourceError
            if self._family == socket.AF_UNIX and target is not None:
                # An unconnected Unix socket polls writable even while the peer's queue
                # is full, so waiting for "writable" would spin: retry on a short timer.
                await asyncio.sleep(pause)
                pause = min(pause * 2, _LONGEST_RETRY)
            else:
                await self._wait_writable()
            if self._closed:
                raise anyio.ClosedResourceError

    async def _wait_writable(self) -> None:
        loop = self._bind_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._write_waiters.append(ready)
        if len(self._write_waiters) == 1:
            # One writer callback for every waiting sender: add_writer would replace it.
            loop.add_writer(self._fd, self._on_writable)
        try:
            await ready
        finally:
            if ready in self._write_waiters:
                self._write_waiters.remove(ready)
                if not self._write_waiters and not self._closed:
                    loop.remove_writer(self._fd)

    def _on_writable(self) -> None:
        assert self._loop is not None
        self._loop.remove_writer(self._fd)
        _wake_all(self._write_waiters)

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(f"{self!r} is in use by another event loop")
        return loop

    async def _sockaddr(self, addr: object) -> SockAddr:
        if isinstance(addr, tuple):
            return addr
        if self._family == socket.AF_UNIX:
            if isinstance(addr, bytes):
                return addr
            if isinstance(addr, str) and not addr.startswith(("unixgram:", "unix:", "udp:")):
                return addr  # a path, as receive() reports a sender bound to one
        if isinstance(addr, str):
            parsed = _parse_cached(addr)
        elif isinstance(addr, Address):
            parsed = addr
        else:
            raise TypeError(
                "addr must be an address string, an aioipc.Address, or a socket address "
                f"(tuple, Unix path), not {type(addr).__name__}"
            )
        expected = "unixgram" if self._family == socket.AF_UNIX else "udp"
        if parsed.scheme != expected:
            raise ValueError(f"cannot send to {parsed} from a {expected} socket")
        if parsed.is_unix:
            return parsed.path
        literal = _literal_sockaddr(parsed, self._family)
        if literal is not None:
            return literal
        if parsed.host is None or parsed.port == 0:
            raise ValueError(f"cannot send to {parsed}: it needs a host and a non-zero port")
        infos = await resolve(parsed, passive=False)
        for family, _, _, sockaddr in infos:
            if family == self._family:
                return sockaddr
        raise ValueError(f"{parsed} has no {_family_name(self._family)} address")

    def _send_error(self, error: OSError, size: int, target: SockAddr) -> Exception:
        where = self._describe(target)
        if error.errno == errno.EMSGSIZE:
            return DatagramTooLarge(size, self._send_limit(), where)
        if isinstance(error, ConnectionRefusedError):
            return ConnectionRefusedError(
                error.errno,
                f"send to {where}: refused (nothing receives there"
                + (
                    "; an earlier datagram got ICMP port unreachable)"
                    if self._family != socket.AF_UNIX
                    else ")"
                ),
            )
        return type(error)(error.errno, f"send to {where}: {error.strerror}")

    def _send_limit(self) -> int:
        if self._family == socket.AF_UNIX:
            sndbuf = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
            return int(sndbuf) - _UNIX_DGRAM_OVERHEAD
        return _UDP_LIMIT[self._family]

    def _describe(self, target: SockAddr) -> str:
        if target is None:
            return str(self._remote)
        return _format_sockaddr(target, self._family)

    # -- receiving --------------------------------------------------------------------

    async def receive(self) -> tuple[bytes, SockAddr]:
        """Wait for one datagram and return ``(data, addr)``.

        ``addr`` is the sender's raw socket address (see :data:`SockAddr`) and can be
        passed back to :meth:`send`; it is ``None`` for a Unix sender that has no name
        (it cannot be answered).  A cancelled call takes no datagram.

        Raises:
            DatagramTruncated: the next datagram was larger than ``max_size``; it is
                consumed and its first ``max_size`` bytes are in the exception.
            ConnectionRefusedError: the connected remote refused a datagram we sent
                (ICMP port unreachable) — nothing listens there.
            anyio.ClosedResourceError: the socket was closed, before or during the call.
            OSError: any other receive error the kernel reported.
        """
        while True:
            if self._queue:
                item = self._queue.popleft()
                if not self._reading and len(self._queue) <= READ_AHEAD // 2:
                    # Resume at half full, not at once: no add/remove per datagram.
                    self._start_reading()
                if isinstance(item, BaseException):
                    raise item
                return item
            if self._closed:
                raise anyio.ClosedResourceError
            if self._direct_budget > 0:
                # A reply that is already there is read now, without a trip through
                # the loop; a bounded number in a row, so that a flood cannot keep
                # other tasks from running.
                self._direct_budget -= 1
                direct = self._read_one()
                if isinstance(direct, BaseException):
                    raise direct
                if direct is not None:
                    return direct
            self._direct_budget = DIRECT_READ_BUDGET
            if not self._reading:
                self._start_reading()
            waiter: asyncio.Future[None] = self._bind_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def __aiter__(self) -> AsyncIterator[tuple[bytes, SockAddr]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[tuple[bytes, SockAddr]]:
        while True:
            try:
                item = await self.receive()
            except anyio.ClosedResourceError:
                return
            yield item

    def _start_reading(self) -> None:
        self._bind_loop().add_reader(self._fd, self._on_readable)
        self._reading = True

    def _read_one(self) -> _Item | None:
        """Read one datagram (or its error) if one is there; None if none is."""
        # With MSG_TRUNC the kernel returns the datagram's real size, even past the
        # buffer.
        try:
            size, address = self._sock.recvfrom_into(self._buffer, 0, _MSG_TRUNC)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as error:
            return self._receive_error(error)
        if size > self._max_size:
            return DatagramTruncated(bytes(self._buffer), size, self._max_size, address)
        return (bytes(self._view[:size]), address)

    def _on_readable(self) -> None:
        # One datagram per callback: level-triggered readiness brings us back for the
        # next, and a ping-pong never pays for a read that only says EAGAIN.
        item = self._read_one()
        if item is None:
            return
        self._queue.append(item)
        if len(self._queue) >= READ_AHEAD:
            # Let the kernel's buffer hold (and, when full, drop) the rest.
            assert self._loop is not None
            self._loop.remove_reader(self._fd)
            self._reading = False
        _wake_all(self._waiters)

    def _receive_error(self, error: OSError) -> OSError:
        if isinstance(error, ConnectionRefusedError):
            return ConnectionRefusedError(
                error.errno,
                f"{self._remote} refused a datagram we sent (ICMP port unreachable: "
                "nothing receives there)",
            )
        return type(error)(error.errno, f"receive on {self._local}: {error.strerror}")

    # -- closing ----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the socket; a ``unixgram:/path`` file is removed if it is still ours.

        Tasks waiting in :meth:`receive` get :class:`anyio.ClosedResourceError`;
        datagrams not yet received are discarded.  Closing twice does nothing.
        """
        self.close()

    def close(self) -> None:
        """Close the socket at once (the synchronous form of :meth:`aclose`)."""
        if self._closed:
            return
        self._closed = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
        self._reading = False
        self._queue.clear()
        _wake_all(self._waiters)
        _wake_all(self._write_waiters)
        unlink_unix_socket(self._sock)
        self._sock.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "closed" if self._closed else str(self._local)
        remote = f" remote={self._remote}" if self._remote is not None else ""
        return f"<aioipc.DatagramSocket {state}{remote}>"


def _wake_all(waiters: list[asyncio.Future[None]]) -> None:
    """Wake every waiter; each one re-checks the state, so a cancelled one loses nothing."""
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
    waiters.clear()


@functools.lru_cache(maxsize=256)
def _parse_cached(text: str) -> Address:
    return parse_address(text, default_scheme="udp")


@functools.lru_cache(maxsize=256)
def _literal_sockaddr(address: Address, family: int) -> tuple[Any, ...] | None:
    """The sockaddr of a literal IP address, or None when ``address.host`` is a name."""
    host = address.host
    if host is None:
        return None
    for candidate in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(candidate, host)
        except OSError:
            continue
        if candidate != family:
            raise ValueError(
                f"cannot send to {address}: it is {_family_name(candidate)} and this "
                f"socket is {_family_name(family)}"
            )
        if address.port == 0:
            raise ValueError(f"cannot send to {address}: port 0")
        if family == socket.AF_INET6:
            return (host, address.port, 0, 0)
        return (host, address.port)
    return None


def _family_name(family: int) -> str:
    if family == socket.AF_INET:
        return "IPv4"
    return "IPv6" if family == socket.AF_INET6 else "Unix"


def _format_sockaddr(sockaddr: SockAddr, family: int) -> str:
    if family == socket.AF_UNIX:
        if isinstance(sockaddr, bytes):
            name = sockaddr.decode(errors="replace")
            return "unixgram:@" + name[1:] if name.startswith("\0") else "unixgram:" + name
        return f"unixgram:{sockaddr}"
    if isinstance(sockaddr, tuple) and len(sockaddr) >= 2:
        host = str(sockaddr[0])
        return f"udp://[{host}]:{sockaddr[1]}" if ":" in host else f"udp://{host}:{sockaddr[1]}"
    return repr(sockaddr)


def _local_address(sock: socket.socket) -> Address:
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        path = name.decode(errors="surrogateescape") if isinstance(name, bytes) else name
        return Address("unixgram", path=path)
    return Address("udp", name[0], name[1])
