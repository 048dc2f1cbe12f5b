"""One address syntax for every socket aioipc opens, and the sockets behind it.

``tcp://host:port``, ``tcp://[::1]:port``, ``udp://host:port``, ``unix:/path``,
``unix:@name`` (Linux's abstract namespace), ``unixgram:/path`` and ``unixgram:@name``.
A port is a number, a service name (``"daytime"``) or IO::Socket's ``"daytime(13)"``:
the name when ``/etc/services`` knows it, else the number in brackets.

Parsing is pure (no I/O); resolving host names goes through the loop's
``getaddrinfo`` so it never blocks the loop.  Listening Unix sockets follow the
design's rules: created with their mode set by ``fchmod`` before ``bind`` (no umask
games), a stale socket file is removed only when it *is* a socket that refuses
connections, and on close the path is unlinked only while it is still our socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import socket
import stat
import weakref
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Address",
    "bind_unix",
    "listen_stream",
    "open_stream_socket",
    "parse_address",
    "resolve",
    "unlink_unix_socket",
]

Scheme = Literal["tcp", "udp", "unix", "unixgram"]
_SCHEMES: tuple[Scheme, ...] = ("tcp", "udp", "unix", "unixgram")
_PORT_WITH_FALLBACK = re.compile(r"([A-Za-z][\w.+-]*)\(([0-9]+)\)", re.ASCII)
#: First and longest pause between attempts to connect to a Unix socket whose backlog is full.
_FIRST_RETRY = 0.001
_LONGEST_RETRY = 0.01
_PORT_NAME = re.compile(r"[A-Za-z][\w.+-]*", re.ASCII)


@dataclass(frozen=True)
class Address:
    """A parsed socket address: what :func:`aioipc.connect`, :func:`aioipc.serve` and
    :func:`aioipc.open_datagram` accept, as text or as this object.

    For Internet schemes ``host`` is a name or literal (``None`` means every
    interface when listening) and ``port`` a number; for Unix schemes ``path`` is a
    file system path, or the abstract name with a leading NUL byte.
    """

    scheme: Scheme
    host: str | None = None
    port: int | None = None
    path: str | None = None

    @property
    def is_unix(self) -> bool:
        """Whether this is a Unix-domain address (path or abstract)."""
        return self.scheme in ("unix", "unixgram")

    @property
    def is_abstract(self) -> bool:
        """Whether this is a Linux abstract Unix address (``unix:@name``)."""
        return self.path is not None and self.path.startswith("\0")

    @property
    def socket_type(self) -> int:
        """``SOCK_STREAM`` for ``tcp``/``unix``, ``SOCK_DGRAM`` for ``udp``/``unixgram``."""
        return socket.SOCK_STREAM if self.scheme in ("tcp", "unix") else socket.SOCK_DGRAM

    def __str__(self) -> str:
        if self.is_unix:
            assert self.path is not None
            if self.is_abstract:
                shown = "@" + self.path[1:]
            elif self.path.startswith("//"):
                shown = "//" + self.path  # the parser strips one leading "//"
            else:
                shown = self.path
            return f"{self.scheme}:{shown}"
        host = self.host or ""
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"


def parse_address(
    address: str | Address | None = None,
    *,
    host: str | None = None,
    port: int | str | None = None,
    default_scheme: Scheme = "tcp",
) -> Address:
    """Parse ``address`` (or build one from ``host`` and ``port``) into an :class:`Address`.

    ``host``/``port`` without ``address`` give a ``default_scheme`` address;
    ``port`` alone fills in an address without one (``"tcp://example.org"``).
    Ports may be numbers, service names or ``"name(number)"``.

    Raises:
        ValueError: the address is malformed (the message quotes the bad part), the
            port is out of range or an unknown service, or ``host``/``port`` contradict
            the address.
        TypeError: ``address`` is neither text nor an :class:`Address`.
    """
    if isinstance(address, Address):
        if host is not None or port is not None:
            raise ValueError("give host/port or an Address, not both")
        return address
    if address is None:
        if host is None and port is None:
            raise ValueError("no address: give an address string, or host and port")
        if default_scheme not in ("tcp", "udp"):
            raise ValueError(f"host/port make an Internet address, not {default_scheme!r}")
        return Address(default_scheme, _check_host(host), _parse_port(port, default_scheme))
    if not isinstance(address, str):
        raise TypeError(f"address must be a str or aioipc.Address, not {type(address).__name__}")
    scheme, sep, rest = address.partition(":")
    if not sep or scheme not in _SCHEMES:
        raise ValueError(
            f"address {address!r}: unknown scheme {scheme!r} "
            "(expected tcp://, udp://, unix: or unixgram:)"
        )
    if scheme in ("unix", "unixgram"):
        if host is not None or port is not None:
            raise ValueError(f"address {address!r}: a Unix address takes no host or port")
        return Address(scheme, path=_parse_unix_path(address, rest))
    if not rest.startswith("//"):
        raise ValueError(f"address {address!r}: expected {scheme}://host:port")
    host_text, port_text_in_address = _split_host_port(address, rest[2:])
    port_text: int | str | None = port_text_in_address
    if host is not None:
        raise ValueError(f"address {address!r} already names its host; drop host={host!r}")
    if port_text is None:
        if port is None:
            raise ValueError(f"address {address!r} has no port")
        port_text = port
    elif port is not None:
        raise ValueError(f"address {address!r} already names its port; drop port={port!r}")
    return Address(scheme, _check_host(host_text), _parse_port(port_text, scheme, address))


def _parse_unix_path(address: str, rest: str) -> str:
    if rest.startswith("//"):
        rest = rest[2:]  # unix:///run/x.sock, as Docker and others write it
    if rest.startswith("@"):
        name = rest[1:]
        if not name:
            raise ValueError(f"address {address!r}: empty abstract name after '@'")
        if len(os.fsencode(name)) > 107:
            raise ValueError(f"address {address!r}: abstract name longer than 107 bytes")
        return "\0" + name
    if not rest:
        raise ValueError(f"address {address!r}: no path after the scheme")
    if "\0" in rest:
        raise ValueError(f"address {address!r}: NUL byte in the path")
    if len(os.fsencode(rest)) > 107:
        raise ValueError(
            f"address {address!r}: path longer than the 107 bytes a Unix socket allows"
        )
    return rest


def _split_host_port(address: str, authority: str) -> tuple[str, str | None]:
    if "/" in authority:
        raise ValueError(
            f"address {address!r}: unexpected path {authority[authority.index('/') :]!r}"
        )
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ValueError(f"address {address!r}: '[' without a closing ']'")
        host, after = authority[1:end], authority[end + 1 :]
        if not host:
            raise ValueError(f"address {address!r}: empty IPv6 literal '[]'")
        if ":" not in host:
            raise ValueError(f"address {address!r}: brackets are for IPv6 literals, not {host!r}")
        if after == "":
            return host, None
        if not after.startswith(":"):
            raise ValueError(f"address {address!r}: unexpected {after!r} after ']'")
        return host, after[1:]
    if authority.count(":") > 1:
        raise ValueError(
            f"address {address!r}: an IPv6 host needs brackets, e.g. tcp://[::1]:8080"
        )
    host, sep, port = authority.partition(":")
    return host, (port if sep else None)


def _check_host(host: str | None) -> str | None:
    if host is None or host == "":
        return None
    if not isinstance(host, str):
        raise TypeError(f"host must be a str, not {type(host).__name__}")
    if host.startswith("[") and host.endswith("]") and ":" in host:
        host = host[1:-1]  # host="[::1]", written as it would be in an address
    bad = [c for c in host if c.isspace() or c in "\0/[]"]
    if bad:
        raise ValueError(f"host {host!r}: {bad[0]!r} cannot be part of a host name")
    return host


def _parse_port(port: int | str | None, scheme: Scheme, address: str | None = None) -> int:
    where = f"address {address!r}: " if address is not None else ""
    protocol = "udp" if scheme == "udp" else "tcp"
    if port is None:
        raise ValueError(f"{where}no port")
    if isinstance(port, bool) or not isinstance(port, (int, str)):
        raise TypeError(f"port must be an int or str, not {type(port).__name__}")
    if isinstance(port, str):
        if port.isascii() and port.isdigit():
            number = int(port)
        elif match := _PORT_WITH_FALLBACK.fullmatch(port):
            # IO::Socket's "daytime(13)": the service name if known, else the number.
            known = _service_port(match[1], protocol)
            number = int(match[2]) if known is None else known
        elif _PORT_NAME.fullmatch(port):
            known = _service_port(port, protocol)
            if known is None:
                raise ValueError(f"{where}unknown {protocol} service {port!r}")
            number = known
        else:
            raise ValueError(f"{where}bad port {port!r}")
    else:
        number = port
    if not 0 <= number <= 65535:
        raise ValueError(f"{where}port {number} out of range 0-65535")
    return number


def _service_port(name: str, protocol: str) -> int | None:
    try:
        return socket.getservbyname(name, protocol)
    except OSError:
        return None


async def resolve(
    address: Address, *, passive: bool
) -> list[tuple[int, int, int, tuple[object, ...] | str]]:
    """Resolve an Internet or Unix address to ``(family, type, proto, sockaddr)`` tuples.

    ``passive=True`` resolves for binding (no host means every interface),
    ``passive=False`` for connecting (no host is an error).  Name lookups run
    through the loop's ``getaddrinfo``, so they never block the loop.

    Raises:
        ValueError: connecting without a host, or to port 0.
        OSError: the name does not resolve (``socket.gaierror``).
    """
    if address.is_unix:
        assert address.path is not None
        return [(socket.AF_UNIX, address.socket_type, 0, address.path)]
    if not passive:
        if address.host is None:
            raise ValueError(f"cannot connect to {address}: no host")
        if address.port == 0:
            raise ValueError(f"cannot connect to {address}: port 0")
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(
        address.host,
        address.port,
        type=address.socket_type,
        flags=socket.AI_PASSIVE if passive else socket.AI_ADDRCONFIG,
    )
    seen: set[tuple[int, object]] = set()
    result: list[tuple[int, int, int, tuple[object, ...] | str]] = []
    for family, type_, proto, _, sockaddr in infos:
        if (family, sockaddr) not in seen:
            seen.add((family, sockaddr))
            result.append((family, type_, proto, sockaddr))
    return result


async def open_stream_socket(address: Address) -> socket.socket:
    """Connect a non-blocking stream socket to ``address``, trying each resolved address.

    Raises:
        ValueError: ``address`` is a datagram address, or has no host.
        OSError: every candidate refused (the last error is raised, naming the
            address), or the name did not resolve.
    """
    if address.socket_type != socket.SOCK_STREAM:
        raise ValueError(f"{address} is a datagram address; use aioipc.open_datagram()")
    loop = asyncio.get_running_loop()
    last_error: OSError | None = None
    for family, type_, proto, sockaddr in await resolve(address, passive=False):
        sock = socket.socket(family, type_ | socket.SOCK_CLOEXEC, proto)
        try:
            sock.setblocking(False)
            if isinstance(sockaddr, str):
                await _connect_unix(sock, sockaddr)
            else:
                await loop.sock_connect(sock, sockaddr)
        except OSError as error:
            sock.close()
            last_error = error
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    assert last_error is not None
    raise type(last_error)(last_error.errno, f"connect to {address}: {last_error.strerror}")


async def _connect_unix(sock: socket.socket, path: str) -> None:
    """Connect a non-blocking Unix stream socket, waiting while the server's backlog is full.

    A Unix ``connect()`` that finds the backlog full fails with ``EAGAIN`` and queues
    nothing: the socket stays unconnected and will not become connected later.  Both
    loops' ``sock_connect`` mistake that for a TCP-style connect in progress, wait for
    the socket to be writable (which an unconnected Unix socket is at once) and return
    a socket that was never connected.  The kernel offers no event for "room in the
    backlog", so the connect is retried on a short timer (1 ms, doubling to 10 ms) —
    the same cancellable, thread-free wait :func:`aioipc.open_fifo` uses.
    """
    pause = _FIRST_RETRY
    while True:
        try:
            sock.connect(path)
        except BlockingIOError:
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LONGEST_RETRY)
        else:
            return


async def listen_stream(
    address: Address, *, backlog: int = 128, unix_mode: int = 0o600
) -> list[socket.socket]:
    """Bind and listen on ``address``: one socket per resolved address (IPv4 and IPv6).

    Internet sockets get ``SO_REUSEADDR`` (a restarted server does not wait out
    TIME_WAIT); IPv6 sockets are ``IPV6_V6ONLY`` so the IPv4 socket can share the port.
    Unix sockets are made ``unix_mode`` before they appear in the file system, and a
    stale socket file is replaced only if nobody accepts on it.

    Raises:
        ValueError: a datagram address.
        FileExistsError: the Unix path exists and is not a stale socket (a live
            server, a regular file, a symlink, …); nothing is removed.
        OSError: bind or listen failed (the message names the address).
    """
    if address.socket_type != socket.SOCK_STREAM:
        raise ValueError(f"{address} is a datagram address, not something to listen on")
    if address.is_unix:
        return [bind_unix(address, socket.SOCK_STREAM, unix_mode=unix_mode, backlog=backlog)]
    sockets: list[socket.socket] = []
    try:
        for family, type_, proto, sockaddr in await resolve(address, passive=True):
            if address.port != 0 and isinstance(sockaddr, tuple) and sockaddr[1] == 0:
                # Port 0 on several families: the later ones share the first one's port.
                sockaddr = (sockaddr[0], address.port, *sockaddr[2:])
            sock = socket.socket(family, type_ | socket.SOCK_CLOEXEC, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(sockaddr)
            except OSError as error:
                raise type(error)(error.errno, f"bind {address}: {error.strerror}") from None
            sock.listen(backlog)
            sock.setblocking(False)
            if address.port == 0 and len(sockets) == 1 and len(sockaddr) >= 2:
                # Several families with port 0 must share the one the first was given.
                address = Address(address.scheme, address.host, sock.getsockname()[1])
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def bind_unix(
    address: Address, socket_type: int, *, unix_mode: int = 0o600, backlog: int | None = None
) -> socket.socket:
    """Bind a Unix socket to ``address`` with ``unix_mode``, replacing only a stale socket.

    Raises:
        FileExistsError: the path holds something that is not a stale socket.
        OSError: bind failed.
    """
    assert address.path is not None
    sock = socket.socket(socket.AF_UNIX, socket_type | socket.SOCK_CLOEXEC)
    try:
        if not address.is_abstract:
            # fchmod before bind: the socket file is born with this mode, umask aside.
            os.fchmod(sock.fileno(), unix_mode)
            _remove_if_stale(address)
        try:
            sock.bind(address.path)
        except OSError as error:
            raise type(error)(error.errno, f"bind {address}: {error.strerror}") from None
        if not address.is_abstract:
            info = os.lstat(address.path)
            _BOUND_FILES[sock] = (address.path, (info.st_dev, info.st_ino))
            if stat.S_IMODE(info.st_mode) != unix_mode:
                # bind() applied the umask to the fchmod'ed mode, which can only have
                # taken bits away: widening to what was asked opens no window.
                os.chmod(address.path, unix_mode)
        if backlog is not None:
            sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        unlink_unix_socket(sock)
        sock.close()
        raise
    return sock


def _remove_if_stale(address: Address) -> None:
    assert address.path is not None
    path = address.path
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise FileExistsError(
            errno.EEXIST, f"{path!r} exists and is not a socket; refusing to replace it"
        )
    probe = socket.socket(socket.AF_UNIX, address.socket_type | socket.SOCK_CLOEXEC)
    try:
        probe.setblocking(False)
        probe.connect(path)
    except ConnectionRefusedError:
        pass  # nobody listens: a leftover of a server that died
    except BlockingIOError:
        raise FileExistsError(
            errno.EADDRINUSE, f"{path!r}: a server is listening there (its backlog is full)"
        ) from None
    except OSError as error:
        raise FileExistsError(
            errno.EEXIST, f"{path!r}: cannot tell whether the socket is stale ({error.strerror})"
        ) from None
    else:
        raise FileExistsError(errno.EADDRINUSE, f"{path!r}: a server is listening there")
    finally:
        probe.close()
    os.unlink(path)


def unlink_unix_socket(sock: socket.socket) -> None:
    """Remove the file :func:`bind_unix` created for ``sock``, if it is still that file.

    Another server may have replaced the file since (after removing ours as stale);
    comparing the inode recorded at bind time with the path's keeps us from deleting
    theirs (asyncio 3.13's ``cleanup_socket`` does the same).  Sockets aioipc did not
    bind (inherited, socket-activated, abstract) have no record: nothing is removed.
    """
    recorded = _BOUND_FILES.pop(sock, None)
    if recorded is None:
        return
    path, identity = recorded
    with contextlib.suppress(OSError):
        info = os.lstat(path)
        if stat.S_ISSOCK(info.st_mode) and (info.st_dev, info.st_ino) == identity:
            os.unlink(path)


#: The file each socket bound by bind_unix() created, and its (device, inode).
_BOUND_FILES: weakref.WeakKeyDictionary[socket.socket, tuple[str, tuple[int, int]]] = (
    weakref.WeakKeyDictionary()
)
