"""The channels a measurement runs over: made by the runner, handed to both sides.

A scenario names a channel kind. For each measurement the runner calls
:func:`open_channel`, which creates the kernel objects (a socketpair, two pipes, a
listening socket and a connection, two FIFOs, a pty, a bound datagram socket, a SysV
queue or two semaphores), and gives each side a :class:`ChannelSpec`: the inherited
fds and whatever else it needs, as a small JSON document on its command line. The
worker turns its spec into a :class:`Channel` for the implementation's client; the
peer (``peer.py``) reads its spec with plain blocking calls.

Stream kinds give each side a read fd and a write fd (the same fd for sockets and the
pty). Datagram kinds give the peer a bound socket and the measured side its address,
so that every implementation opens its own socket the way it normally would. SysV
kinds give both sides keys. ``"none"`` gives nothing: the client sets up what it
measures itself (a signal sender, a server and its clients, child processes).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import tempfile
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ChannelKind = Literal[
    "socketpair",
    "unix",
    "tcp",
    "pipe",
    "fifo",
    "pty",
    "udp",
    "unixgram",
    "sysv-msg",
    "sysv-sem",
    "none",
]
STREAM_KINDS: tuple[ChannelKind, ...] = ("socketpair", "unix", "tcp", "pipe", "fifo", "pty")
SOCKET_KINDS: tuple[ChannelKind, ...] = ("socketpair", "unix", "tcp")
DATAGRAM_KINDS: tuple[ChannelKind, ...] = ("udp", "unixgram")
SYSV_KINDS: tuple[ChannelKind, ...] = ("sysv-msg", "sysv-sem")


@dataclass(frozen=True)
class ChannelSpec:
    """One side's view of a channel, as passed on a command line.

    ``fds`` are inherited by the side's process (``pass_fds``); ``read_fd`` and
    ``write_fd`` are among them for stream kinds; ``address`` is the peer's datagram
    address in aioipc's syntax; ``keys`` are SysV keys.
    """

    kind: ChannelKind
    read_fd: int | None = None
    write_fd: int | None = None
    address: str | None = None
    keys: tuple[int, ...] = ()

    @property
    def fds(self) -> tuple[int, ...]:
        """The fds this side inherits (each once)."""
        return tuple(dict.fromkeys(fd for fd in (self.read_fd, self.write_fd) if fd is not None))

    def to_json(self) -> str:
        """The spec as one command-line argument."""
        return json.dumps(
            {
                "kind": self.kind,
                "read_fd": self.read_fd,
                "write_fd": self.write_fd,
                "address": self.address,
                "keys": list(self.keys),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ChannelSpec:
        """Parse :meth:`to_json`'s output.

        Raises:
            ValueError: not a channel spec.
        """
        data: dict[str, Any] = json.loads(text)
        try:
            return cls(
                kind=data["kind"],
                read_fd=data["read_fd"],
                write_fd=data["write_fd"],
                address=data["address"],
                keys=tuple(data["keys"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a channel spec: {text!r}") from exc


@dataclass
class Channel:
    """What an implementation's client is given: its side of the channel.

    The client owns every fd here and must close them (or hand them to something that
    does) before it returns; :meth:`close` closes whatever is still open.
    ``sock`` is the connected stream socket of socket kinds (``read_fd`` and
    ``write_fd`` are its fd); ``is_pty`` tells a pty master apart from a pipe pair.
    """

    kind: ChannelKind
    read_fd: int = -1
    write_fd: int = -1
    sock: socket.socket | None = None
    address: str | None = None
    keys: tuple[int, ...] = ()
    _closed: set[int] = field(default_factory=set)

    @classmethod
    def from_spec(cls, spec: ChannelSpec) -> Channel:
        """Adopt the inherited fds of ``spec`` in this process."""
        channel = cls(kind=spec.kind, address=spec.address, keys=spec.keys)
        if spec.read_fd is not None:
            channel.read_fd = spec.read_fd
        if spec.write_fd is not None:
            channel.write_fd = spec.write_fd
        if spec.kind in SOCKET_KINDS and spec.read_fd is not None:
            channel.sock = socket.socket(fileno=spec.read_fd)
        return channel

    @property
    def is_pty(self) -> bool:
        """True for a pty master (one fd, read and written)."""
        return self.kind == "pty"

    def take_socket(self) -> socket.socket:
        """The connected stream socket, now the caller's to close.

        Raises:
            ValueError: this is not a socket channel.
        """
        if self.sock is None:
            raise ValueError(f"a {self.kind} channel has no stream socket")
        sock, self.sock = self.sock, None
        self._closed.add(sock.fileno())
        return sock

    def take_fds(self) -> tuple[int, int]:
        """``(read_fd, write_fd)``, now the caller's to close (the same fd for a pty).

        Raises:
            ValueError: this channel has no fds.
        """
        if self.read_fd < 0 or self.write_fd < 0:
            raise ValueError(f"a {self.kind} channel has no fds")
        if self.sock is not None:
            self.sock.detach()
            self.sock = None
        self._closed.update((self.read_fd, self.write_fd))
        return self.read_fd, self.write_fd

    def close(self) -> None:
        """Close whatever the client did not take."""
        if self.sock is not None:
            self._closed.add(self.sock.fileno())
            self.sock.close()
            self.sock = None
        for fd in (self.read_fd, self.write_fd):
            if fd >= 0 and fd not in self._closed:
                self._closed.add(fd)
                with contextlib.suppress(OSError):
                    os.close(fd)


@dataclass
class OpenChannel:
    """The runner's handle on one channel: both sides' specs and the cleanup."""

    worker: ChannelSpec
    peer: ChannelSpec
    _cleanups: list[Callable[[], None]] = field(default_factory=list)

    def close_inherited(self) -> None:
        """Close the runner's copies of the fds, once both sides have inherited them."""
        for fd in {*self.worker.fds, *self.peer.fds}:
            with contextlib.suppress(OSError):
                os.close(fd)

    def close(self) -> None:
        """Close the runner's fds and remove what the channel created (files, SysV objects)."""
        self.close_inherited()
        while self._cleanups:
            with contextlib.suppress(OSError):
                self._cleanups.pop()()


def _socket_fds(
    a: socket.socket, b: socket.socket, kind: ChannelKind
) -> tuple[ChannelSpec, ChannelSpec]:
    fa, fb = a.detach(), b.detach()
    return ChannelSpec(kind, fa, fa), ChannelSpec(kind, fb, fb)


def _connected_pair(family: int, address: Any) -> tuple[socket.socket, socket.socket]:
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        listener.bind(address)
        listener.listen(1)
        client = socket.socket(family, socket.SOCK_STREAM)
        client.connect(listener.getsockname())
        server, _ = listener.accept()
    if family == socket.AF_INET:
        for sock in (client, server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client, server


def _pipe_pair(kind: ChannelKind, directory: Path | None) -> tuple[ChannelSpec, ChannelSpec]:
    """Two one-way channels: worker -> peer and peer -> worker."""
    if directory is None:
        to_peer_r, to_peer_w = os.pipe()
        to_worker_r, to_worker_w = os.pipe()
    else:
        # Both ends of each FIFO are opened here: the reader first, without blocking,
        # so that the writer's open finds it.
        ends = []
        for name in ("to-peer", "to-worker"):
            path = directory / name
            os.mkfifo(path, 0o600)
            reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            writer = os.open(path, os.O_WRONLY)
            os.set_blocking(reader, True)
            ends.append((reader, writer))
        (to_peer_r, to_peer_w), (to_worker_r, to_worker_w) = ends
    return ChannelSpec(kind, to_worker_r, to_peer_w), ChannelSpec(kind, to_peer_r, to_worker_w)


def open_channel(kind: ChannelKind) -> OpenChannel:
    """Create a channel of ``kind`` for one measurement.

    Raises:
        ValueError: an unknown kind.
        OSError: the kernel refused to create it.
    """
    cleanups: list[Callable[[], None]] = []
    directory: Path | None = None
    if kind in ("unix", "fifo", "unixgram"):
        directory = Path(tempfile.mkdtemp(prefix=f"aioipc-bench-{kind}-"))
        cleanups.append(lambda: _remove_tree(directory))
    try:
        worker, peer = _make(kind, directory, cleanups)
    except BaseException:
        for cleanup in reversed(cleanups):
            with contextlib.suppress(OSError):
                cleanup()
        raise
    return OpenChannel(worker, peer, cleanups)


def _remove_tree(directory: Path) -> None:
    for child in directory.iterdir():
        child.unlink()
    directory.rmdir()


def _make(
    kind: ChannelKind, directory: Path | None, cleanups: list[Callable[[], None]]
) -> tuple[ChannelSpec, ChannelSpec]:
    if kind == "socketpair":
        return _socket_fds(*socket.socketpair(), kind)
    if kind == "unix":
        assert directory is not None
        return _socket_fds(*_connected_pair(socket.AF_UNIX, str(directory / "s")), kind)
    if kind == "tcp":
        return _socket_fds(*_connected_pair(socket.AF_INET, ("127.0.0.1", 0)), kind)
    if kind == "pipe":
        return _pipe_pair(kind, None)
    if kind == "fifo":
        return _pipe_pair(kind, directory)
    if kind == "pty":
        master, slave = os.openpty()
        # Raw: no echo, no line discipline, so bytes pass through as on a pipe.
        tty.setraw(slave)
        return ChannelSpec(kind, master, master), ChannelSpec(kind, slave, slave)
    if kind == "udp":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        fd = sock.detach()
        return ChannelSpec(kind, address=f"udp://127.0.0.1:{port}"), ChannelSpec(kind, fd, fd)
    if kind == "unixgram":
        assert directory is not None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = directory / "peer"
        sock.bind(str(path))
        fd = sock.detach()
        return ChannelSpec(kind, address=f"unixgram:{path}"), ChannelSpec(kind, fd, fd)
    if kind in SYSV_KINDS:
        keys = _sysv_objects(kind, cleanups)
        return ChannelSpec(kind, keys=keys), ChannelSpec(kind, keys=keys)
    if kind == "none":
        return ChannelSpec(kind), ChannelSpec(kind)
    raise ValueError(f"unknown channel kind {kind!r}")


def _remover(obj: Any, error: type[Exception]) -> Callable[[], None]:
    def remove() -> None:
        with contextlib.suppress(error):
            obj.remove()

    return remove


def _sysv_objects(kind: ChannelKind, cleanups: list[Callable[[], None]]) -> tuple[int, ...]:
    """Fresh SysV objects with random keys, removed by the cleanup."""
    import sysv_ipc  # imported here: only SysV channels need it

    keys: list[int] = []
    count = 1 if kind == "sysv-msg" else 2
    while len(keys) < count:
        key = secrets.randbelow(2**31 - 2) + 1
        try:
            if kind == "sysv-msg":
                obj: Any = sysv_ipc.MessageQueue(key, sysv_ipc.IPC_CREX, mode=0o600)
            else:
                obj = sysv_ipc.Semaphore(key, sysv_ipc.IPC_CREX, mode=0o600, initial_value=0)
        except sysv_ipc.ExistentialError:
            continue  # the key is taken: draw another
        cleanups.append(_remover(obj, sysv_ipc.Error))
        keys.append(key)
    return tuple(keys)
