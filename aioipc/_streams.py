"""One byte-stream type over every pollable channel: pipes, FIFOs, ptys and sockets.

:class:`Stream` implements :class:`anyio.abc.ByteStream`, so anyio's wrappers (TLS,
text, buffered) work on it, on top of asyncio transports and protocols, so it runs on
asyncio's default loop and on uvloop alike.

Why a protocol and not :class:`asyncio.StreamReader`: the reader keeps its own buffer
and wakes its waiter through an extra layer; here the protocol feeds one
:class:`~aioipc._framing.ReceiveBuffer` and wakes at most one future per receive.  When
a receiver is already waiting and the buffer is empty, the chunk the transport read is
handed to it as is — no copy through the buffer — and chunks that queue up are kept
whole, so a later ``receive()`` hands them on without a copy as well.  A cancelled
receiver puts such a chunk back, so cancellation never loses data.

Unix stream sockets (socketpairs included) run on aioipc's own
:class:`~aioipc._unix_transport.UnixSocketTransport` rather than the loop's socket
transport: both loops read sockets with ``recv()``, which makes the kernel close any
file descriptors sent with the bytes, so :meth:`Stream.receive_fds` could never see
them.  That transport reads with ``recvmsg`` and feeds the same protocol, so the rest
of this module does not care which transport is underneath.  Each batch of fds that
arrives is queued with the stream position of the first byte of the read that brought
it; see :meth:`Stream.receive_fds` for the rules that follow.

``BufferedProtocol`` is not used yet: ``receive()`` returns ``bytes``, and reading
into a reused buffer would need a copy out, which is what the transport's own ``bytes``
costs.  Where it might pay (the default loop's 256 KiB reads) is for the benchmark
suite to show.
"""

from __future__ import annotations

import _socket
import asyncio
import collections
import errno
import fcntl
import io
import os
import socket
import stat
import struct
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar

import anyio
from anyio import TypedAttributeSet, typed_attribute
from anyio.abc import ByteStream, SocketAttribute

from ._errors import BrokenPipe, FdsTruncated, IncompleteRead
from ._framing import DEFAULT_LINE_LIMIT, ReceiveBuffer
from ._unix_transport import SCM_MAX_FD, UnixSocketTransport

__all__ = [
    "DEFAULT_LINE_LIMIT",
    "FdMessage",
    "PeerCredentials",
    "Stream",
    "StreamAttribute",
    "pipe",
    "socketpair",
]

_BYTES_LIKE = (bytes, bytearray, memoryview)

#: The C getters under ``socket.socket.family`` and ``.type``, which return plain ints:
#: the properties convert to an enum member on every read, a Python-level call (~0.5 us)
#: that a server would otherwise pay several times per connection.
raw_family: Callable[[socket.socket], int] = _socket.socket.family.__get__
raw_type: Callable[[socket.socket], int] = _socket.socket.type.__get__

#: receive() without an argument returns at most this many bytes.
DEFAULT_RECEIVE_SIZE = 65536
#: Unread input above this pauses reading from the channel (back-pressure to the peer).
READ_HIGH_WATER = 256 * 1024
#: Unsent output above this makes send() wait until the channel drains.
WRITE_HIGH_WATER = 64 * 1024
#: Bytes one direct read (see ``Stream._read_now``) asks for.
DIRECT_READ_SIZE = 64 * 1024
#: Receives in a row that may be served by direct reads before one waits on the loop:
#: a peer that always has data ready must not keep other tasks (timeouts,
#: cancellations) from running.
DIRECT_READ_BUDGET = 16


class PeerCredentials(NamedTuple):
    """The process on the other end of a Unix socket, as the kernel saw it at connect."""

    pid: int
    uid: int
    gid: int


class FdMessage(NamedTuple):
    """What :meth:`Stream.receive_fds` returns: bytes, and the fds that came with them.

    The caller owns the fds (close-on-exec, already open in this process) and must
    close them.
    """

    data: bytes
    fds: list[int]


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


class _FdBatch:
    """Fds that arrived with one read: ``position`` is the stream offset of its first byte."""

    __slots__ = ("fds", "position", "truncated")

    def __init__(self, position: int, fds: list[int], truncated: bool) -> None:
        self.position = position
        self.fds = fds
        self.truncated = truncated

    def close(self) -> None:
        fds, self.fds = self.fds, []
        _close_fds(*fds)


class StreamAttribute(TypedAttributeSet):
    """aioipc's typed attributes of a :class:`Stream`, besides anyio's ``SocketAttribute``.

    Read them with ``stream.extra(StreamAttribute.fd)``; an attribute that does not
    apply to the stream raises :class:`anyio.TypedAttributeLookupError`.
    """

    #: The file descriptor the stream reads from (or writes to, if write-only).
    fd: int = typed_attribute()
    #: Credentials of the peer of a Unix socket (``SO_PEERCRED``).
    peer_credentials: PeerCredentials = typed_attribute()
    #: The pid of the child process at the other end, for a child's pipe or pty.
    child_pid: int = typed_attribute()


class _ChannelProtocol(asyncio.Protocol):
    """Connects one asyncio transport to its :class:`Stream`.

    A socket stream has one (reading and writing); a pipe stream may have two, one per
    direction, each with its own protocol instance so that each knows which side ended.
    """

    def __init__(self, stream: Stream, *, reads: bool, writes: bool) -> None:
        self._stream: Stream | _Detached = stream
        self.reads = reads
        self.writes = writes
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self._stream._on_data(data)

    def fds_received(self, data: bytes, fds: list[int], truncated: bool) -> None:
        self._stream._on_fds(data, fds, truncated)

    def eof_received(self) -> bool:
        self._stream._on_eof()
        return True  # keep a socket open for writing: half-close

    def pause_writing(self) -> None:
        self._stream._write_paused = True

    def resume_writing(self) -> None:
        self._stream._on_resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        self._stream._on_connection_lost(self, exc)
        # The transport calls nothing after this: letting go of the stream breaks the
        # stream -> transport -> protocol -> stream cycle, so a closed stream is freed
        # at once by reference counting instead of waiting for the cyclic garbage
        # collector (which cost a busy server a tenth of its time).
        self._stream = _DETACHED


class _Detached:
    """What a protocol points at once its transport is gone: every report is dropped."""

    __slots__ = ()

    @property
    def _write_paused(self) -> bool:
        return False

    @_write_paused.setter
    def _write_paused(self, paused: bool) -> None:
        pass

    def _on_data(self, data: bytes) -> None:
        pass

    def _on_fds(self, data: bytes, fds: list[int], truncated: bool) -> None:
        for fd in fds:  # nobody can take them now: do not leak them
            os.close(fd)

    def _on_eof(self) -> None:
        pass

    def _on_resume_writing(self) -> None:
        pass

    def _on_connection_lost(self, protocol: _ChannelProtocol, exc: Exception | None) -> None:
        pass


_DETACHED = _Detached()


class _Guard:
    """Refuses a second concurrent receive (or send) with anyio's BusyResourceError.

    Another task can come in only while the first one waits, so the guard is held
    around the waits alone (:meth:`Stream._wait_for_data`, :meth:`Stream._drain`) and
    every receive or send method only calls :meth:`check` on entry: the common case,
    which never waits, costs no context manager.
    """

    __slots__ = ("_action", "busy")

    def __init__(self, action: str) -> None:
        self._action = action
        #: Whether a task holds the guard (hot paths check it without entering).
        self.busy = False

    def check(self) -> None:
        """Raise anyio.BusyResourceError if another task holds the guard."""
        if self.busy:
            raise anyio.BusyResourceError(self._action)

    def __enter__(self) -> None:
        self.check()
        self.busy = True

    def __exit__(self, *exc_info: object) -> None:
        self.busy = False


class Stream(ByteStream):
    """A bidirectional (or one-way) byte stream over a pipe, FIFO, pty or socket.

    Create one with :meth:`from_socket`, :meth:`from_fd` or :meth:`from_pipe_fds`, or
    get one from :func:`socketpair`, :func:`pipe` and aioipc's other openers.  The
    stream owns its fds: :meth:`aclose` (or leaving ``async with``) closes them.

    Receiving raises :class:`anyio.EndOfStream` at end of input,
    :class:`anyio.ClosedResourceError` after :meth:`aclose`, and
    :class:`anyio.BrokenResourceError` when the channel failed.  Sending to a peer that
    has gone raises :class:`aioipc.BrokenPipe`.  One task at a time may receive, and
    one may send; a second gets :class:`anyio.BusyResourceError`.
    """

    def __init__(self, *, eol: bytes = b"\n") -> None:
        """Streams are made by the ``from_*`` constructors; this sets common state."""
        _check_eol(eol)
        self._loop = asyncio.get_running_loop()
        self._eol = eol
        self._buffer = ReceiveBuffer()
        # Bytes the read transport has delivered so far: with len(_buffer), the stream
        # offset of the next unread byte, which is what queued fds are placed by.
        self._fed = 0
        self._fd_queue: collections.deque[_FdBatch] = collections.deque()
        self._unix_transport: UnixSocketTransport | None = None
        self._read_transport: asyncio.ReadTransport | None = None
        self._write_transport: asyncio.WriteTransport | None = None
        self._protocols: list[_ChannelProtocol] = []
        self._receive_waiter: asyncio.Future[bytes | None] | None = None
        self._receive_waiter_max = 0
        self._drain_waiter: asyncio.Future[None] | None = None
        self._write_paused = False
        self._read_paused = False
        self._eof = False
        self._read_error: BaseException | None = None
        self._write_error: BaseException | None = None
        self._write_shut = False
        self._closed = False
        # A socket has one transport for both directions; a pipe pair has two.
        self._duplex = False
        # The fd read directly before waiting (loop transports); a Unix socket is read
        # through its own transport's read_now() instead.
        self._direct_fd: int | None = None
        self._direct_budget = DIRECT_READ_BUDGET
        self._receive_guard = _Guard("reading from")
        self._send_guard = _Guard("writing to")
        self._attributes: dict[Any, Callable[[], Any]] = {}
        self._description = "stream"

    # ----------------------------------------------------------------- construction

    @classmethod
    async def from_socket(
        cls,
        sock: socket.socket,
        *,
        eol: bytes | None = None,
        child_pid: int | None = None,
    ) -> Stream:
        """Wrap a connected stream socket (TCP, Unix, or a socketpair end).

        A Unix socket (a socketpair end too) can carry file descriptors: see
        :meth:`send_fds` and :meth:`receive_fds`.

        Arguments are checked first and an invalid call leaves ``sock`` to the caller;
        from then on the stream owns it and closes it on any later error.  ``eol`` is
        what :meth:`send_line` writes: ``b"\\r\\n"`` on Internet sockets and
        ``b"\\n"`` elsewhere unless given.
        TCP sockets get ``TCP_NODELAY``: IPC messages are small and latency matters.

        Raises:
            TypeError: ``sock`` is not a socket.
            ValueError: ``sock`` is not a stream socket, or ``eol`` is not ``b"\\n"``
                or ``b"\\r\\n"``.
        """
        if not isinstance(sock, socket.socket):
            raise TypeError(f"from_socket() needs a socket.socket, not {type(sock).__name__}")
        family = raw_family(sock)
        kind = raw_type(sock)
        if kind != socket.SOCK_STREAM:
            raise ValueError(
                f"from_socket() needs a SOCK_STREAM socket, not {socket.SocketKind(kind)!r}"
            )
        internet = family in (socket.AF_INET, socket.AF_INET6)
        if eol is None:
            eol = b"\r\n" if internet else b"\n"
        _check_eol(eol)
        # Arguments are valid: from here on the stream owns the socket, even on failure.
        handed = False
        try:
            self = cls(eol=eol)
            if internet:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            fd = sock.fileno()
            self._description = f"{_family_name(family)} socket fd {fd}"
            protocol = _ChannelProtocol(self, reads=True, writes=True)
            self._protocols.append(protocol)
            transport: asyncio.Transport
            if family == socket.AF_UNIX:
                transport = self._unix_transport = UnixSocketTransport(self._loop, sock, protocol)
            else:
                handed = True
                # No _connect() shield here: both loops attach the socket to the
                # transport before their first await and close it through the transport
                # if that await is interrupted (uvloop detaches the socket object, so
                # it never closes the fd a second time).  A server pays for a task and
                # a shield per connection otherwise.
                transport, _ = await self._loop.connect_accepted_socket(lambda: protocol, sock)
        except BaseException:
            if not handed:
                sock.close()
            raise
        self._read_transport = transport
        self._write_transport = transport
        self._duplex = True
        if self._unix_transport is None:
            self._direct_fd = fd
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self._set_socket_attributes(sock, fd, family, child_pid)
        return self

    @classmethod
    async def from_fd(
        cls,
        fd: int,
        mode: str,
        *,
        eol: bytes | None = None,
        child_pid: int | None = None,
    ) -> Stream:
        """Wrap a pipe, FIFO, character device (a pty) or socket fd.

        ``mode`` is ``"r"`` (read end), ``"w"`` (write end) or ``"rw"`` (both ways,
        for a pty master or a socket).  ``eol`` defaults as in :meth:`from_socket` for
        a socket and to ``b"\\n"`` otherwise.  Arguments are checked first and an
        invalid call leaves ``fd`` to the caller; from then on the stream owns it and
        closes it on any later error.  The fd
        is switched to non-blocking mode; that flag belongs to the open file
        description, so every process sharing it sees the change.

        Raises:
            ValueError: an unknown ``mode``, or an fd that is not a pipe, FIFO,
                character device or socket (a regular file is never "ready" in a
                useful sense and cannot be driven by the event loop).
            OSError: ``fd`` is not open.
        """
        if mode not in ("r", "w", "rw"):
            raise ValueError(f"mode must be 'r', 'w' or 'rw', not {mode!r}")
        if eol is not None:
            _check_eol(eol)
        kind = os.fstat(fd).st_mode
        if stat.S_ISSOCK(kind):
            sock = socket.socket(fileno=fd)
            if mode != "rw" or sock.type != socket.SOCK_STREAM:
                sock.detach()  # the caller keeps the fd: arguments are checked first
                raise ValueError(
                    f"fd {fd} is a {sock.type.name} socket; "
                    "only a SOCK_STREAM socket, opened with mode='rw', is a stream"
                )
            return await cls.from_socket(sock, eol=eol, child_pid=child_pid)
        if eol is None:
            eol = b"\n"
        if not (stat.S_ISFIFO(kind) or stat.S_ISCHR(kind)):
            raise ValueError(
                f"fd {fd} is not a pipe, FIFO, terminal or socket; "
                "the event loop cannot wait on it"
            )
        if mode == "r":
            return await cls.from_pipe_fds(read_fd=fd, eol=eol, child_pid=child_pid)
        if mode == "w":
            return await cls.from_pipe_fds(write_fd=fd, eol=eol, child_pid=child_pid)
        # asyncio's pipe transports each close their fd: give the writer its own.
        try:
            write_fd = os.dup(fd)
        except OSError:
            os.close(fd)
            raise
        return await cls.from_pipe_fds(read_fd=fd, write_fd=write_fd, eol=eol, child_pid=child_pid)

    @classmethod
    async def from_pipe_fds(
        cls,
        read_fd: int | None = None,
        write_fd: int | None = None,
        *,
        eol: bytes = b"\n",
        child_pid: int | None = None,
    ) -> Stream:
        """Join a read fd and a write fd (a child's stdout and stdin, say) into one stream.

        Either may be ``None`` for a one-way stream.  Arguments are checked first and
        an invalid call leaves the fds to the caller; from then on the stream owns
        both and closes them on any later error.

        Raises:
            ValueError: both fds are ``None``.
        """
        if read_fd is None and write_fd is None:
            raise ValueError("from_pipe_fds() needs read_fd, write_fd or both")
        _check_eol(eol)
        reader = writer = None
        try:
            self = cls(eol=eol)
            # The file objects own the fds from here on; the transports own the files.
            if read_fd is not None:
                reader = open(read_fd, "rb", buffering=0, closefd=True)  # noqa: ASYNC230, SIM115
            if write_fd is not None:
                writer = open(write_fd, "wb", buffering=0, closefd=True)  # noqa: ASYNC230, SIM115
        except BaseException:
            if reader is None:
                _close_fds(read_fd)
            else:
                reader.close()
            _close_fds(write_fd)
            raise
        self._description = f"pipe fd {read_fd if read_fd is not None else write_fd}"
        # Files handed to the loop are the loop's to close from then on (see _connect).
        handed: list[object] = []
        try:
            if reader is not None:
                read_protocol = _ChannelProtocol(self, reads=True, writes=False)
                self._protocols.append(read_protocol)
                handed.append(reader)
                self._read_transport = await _connect(
                    self._loop.connect_read_pipe(lambda: read_protocol, reader)
                )
            if writer is not None:
                write_protocol = _ChannelProtocol(self, reads=False, writes=True)
                self._protocols.append(write_protocol)
                handed.append(writer)
                transport = await _connect(
                    self._loop.connect_write_pipe(lambda: write_protocol, writer)
                )
                transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
                self._write_transport = transport
        except BaseException:
            self._abort()
            for file in (reader, writer):
                if file is not None and file not in handed:
                    file.close()
            raise
        if read_fd is None:
            self._eof = True  # a write-only stream has nothing to receive
        self._direct_fd = read_fd
        self._attributes[StreamAttribute.fd] = lambda: read_fd if read_fd is not None else write_fd
        if child_pid is not None:
            self._attributes[StreamAttribute.child_pid] = lambda: child_pid
        return self

    def _set_socket_attributes(
        self, sock: socket.socket, fd: int, family: int, child_pid: int | None
    ) -> None:
        local = _format_address(family, sock.getsockname())
        try:
            remote = _format_address(family, sock.getpeername())
        except OSError:
            remote = None
        attrs = self._attributes
        attrs[StreamAttribute.fd] = lambda: fd
        attrs[SocketAttribute.family] = lambda: socket.AddressFamily(family)
        attrs[SocketAttribute.local_address] = lambda: local
        attrs[SocketAttribute.raw_socket] = lambda: sock
        if remote is not None:
            attrs[SocketAttribute.remote_address] = lambda: remote
        if family in (socket.AF_INET, socket.AF_INET6):
            attrs[SocketAttribute.local_port] = lambda: local[1]
            if remote is not None:
                attrs[SocketAttribute.remote_port] = lambda: remote[1]
        if family == socket.AF_UNIX:
            raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            credentials = PeerCredentials(*struct.unpack("3i", raw))
            attrs[StreamAttribute.peer_credentials] = lambda: credentials
        if child_pid is not None:
            attrs[StreamAttribute.child_pid] = lambda: child_pid

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        """The typed attributes this stream offers (anyio's ``TypedAttributeProvider``)."""
        return self._attributes

    @property
    def eol(self) -> bytes:
        """The line terminator :meth:`send_line` writes."""
        return self._eol

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<aioipc.Stream {self._description} {state}>"

    # ----------------------------------------------------------------- protocol side

    def _on_data(self, data: bytes) -> None:
        self._fed += len(data)
        waiter = self._receive_waiter
        if (
            waiter is not None
            and not waiter.done()
            and not self._buffer.size
            and len(data) <= self._receive_waiter_max
        ):
            waiter.set_result(data)
            return
        self._buffer.feed(data)
        if self._buffer.size > READ_HIGH_WATER and not self._read_paused:
            self._pause_reading()
        self._wake_receiver()

    def _on_fds(self, data: bytes, fds: list[int], truncated: bool) -> None:
        batch = _FdBatch(self._fed, fds, truncated)
        if self._closed:
            batch.close()
        else:
            self._fd_queue.append(batch)
        self._on_data(data)

    def _on_eof(self) -> None:
        self._eof = True
        self._wake_receiver()

    def _on_resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _on_connection_lost(self, protocol: _ChannelProtocol, exc: Exception | None) -> None:
        if protocol.reads:
            # A pty master reads EIO once the slave side is closed: that is its EOF.
            if exc is None or (isinstance(exc, OSError) and exc.errno == errno.EIO):
                self._eof = True
            elif self._read_error is None:
                self._read_error = exc
            self._wake_receiver()
        if protocol.writes:
            # A pipe's write transport also closes without an error when the reader
            # goes away with nothing queued: either way, writing is over.
            if self._write_error is None:
                self._write_error = exc if exc is not None else BrokenPipeError("closed")
            waiter = self._drain_waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def _wake_receiver(self) -> None:
        waiter = self._receive_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _pause_reading(self) -> None:
        transport = self._read_transport
        # uvloop's transports are not asyncio.ReadTransport subclasses: no isinstance.
        if transport is not None and transport.is_reading():
            transport.pause_reading()
        self._read_paused = True

    def _maybe_resume_reading(self) -> None:
        if self._read_paused and len(self._buffer) <= READ_HIGH_WATER // 4:
            self._read_paused = False
            transport = self._read_transport
            if transport is not None and not transport.is_closing():
                transport.resume_reading()

    # ----------------------------------------------------------------- receiving

    def _check_readable(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        if self._read_error is not None:
            raise anyio.BrokenResourceError(
                f"{self._description} failed: {self._read_error}"
            ) from self._read_error

    def _read_now(self, max_bytes: int) -> bytes | bool:
        """Try one non-blocking read before waiting.

        Returns a chunk handed over directly (as :meth:`_on_data` would hand it to a
        waiter), true if the read delivered through the buffer (or brought EOF or an
        error), false if there was nothing to read.

        When the peer answers quickly (a pinned peer, or one already done), the data
        is often there by the time we ask, and a read now saves the trip through the
        loop: the selector wake-up, the transport's callback, a future and a task
        step.  Reading beside the transport is safe because both run in the loop's
        thread and deliver in order.  Only data is taken here: EOF and errors are left
        for the transport to find and report, as it would have.
        """
        if self._read_paused or self._direct_budget <= 0:
            return False
        self._direct_budget -= 1
        data: bytes | bool
        if self._unix_transport is not None:
            data = self._unix_transport.read_now()
            if type(data) is not bytes:
                return data
        else:
            transport = self._read_transport
            # A closing transport may already have closed the fd, whose number the
            # kernel can hand to the next open(): never read it then.
            if (
                self._direct_fd is None
                or transport is None
                or transport.is_closing()
                or self._eof
                or self._closed
            ):
                return False
            try:
                data = os.read(self._direct_fd, DIRECT_READ_SIZE)
            except OSError:
                return False  # EAGAIN, or an error the transport will report
            if not data:
                return False
        if not self._buffer.size and len(data) <= max_bytes:
            self._fed += len(data)
            return data
        self._on_data(data)
        return True

    async def _wait_for_data(self, max_bytes: int) -> bytes | None:
        """Wait until the protocol reports something, holding the receive guard.

        Callers try :meth:`_read_now` first, synchronously: awaiting this coroutine
        only when there was nothing costs no coroutine on the path that finds data.
        Returns a chunk of at most ``max_bytes`` the protocol handed over directly, or
        None when something went through the buffer or the stream's state changed:
        the caller looks again.
        """
        self._direct_budget = DIRECT_READ_BUDGET
        waiter: asyncio.Future[bytes | None] = self._loop.create_future()
        self._receive_waiter = waiter
        self._receive_waiter_max = max_bytes
        with self._receive_guard:
            try:
                return await waiter
            except asyncio.CancelledError:
                # The chunk may have been handed over just before the cancellation.
                if waiter.done() and not waiter.cancelled():
                    chunk = waiter.result()
                    if chunk:
                        self._buffer.unread(chunk)
                raise
            finally:
                self._receive_waiter = None

    async def receive(self, max_bytes: int = DEFAULT_RECEIVE_SIZE) -> bytes:
        """Return between 1 and ``max_bytes`` bytes, waiting for them if need be.

        Raises:
            ValueError: ``max_bytes`` is less than 1.
            anyio.EndOfStream: the peer closed its end (or sent EOF) and all data was read.
            anyio.ClosedResourceError: this stream was closed.
            anyio.BrokenResourceError: the channel failed (e.g. reset by the peer).
            anyio.BusyResourceError: another task is receiving from this stream.
        """
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")
        self._receive_guard.check()
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            if self._buffer.size:
                data = self._buffer.take(max_bytes)
                if self._read_paused:
                    self._maybe_resume_reading()
                return data
            self._check_readable()
            if self._eof:
                raise anyio.EndOfStream
            direct = self._read_now(max_bytes)
            if type(direct) is bytes:
                return direct
            if direct:
                continue  # delivered through the buffer, or EOF or an error: look again
            chunk = await self._wait_for_data(max_bytes)
            if chunk:
                return chunk

    def _fd_channel(self, method: str) -> UnixSocketTransport:
        if self._unix_transport is None:
            raise io.UnsupportedOperation(
                f"{method}() needs a Unix stream socket (or socketpair) stream: "
                f"{self._description} cannot carry file descriptors"
            )
        return self._unix_transport

    async def receive_fds(self, max_bytes: int, max_fds: int) -> FdMessage:
        """Return up to ``max_bytes`` bytes and the file descriptors that came with them.

        Fds sent with :meth:`send_fds` (or any ``SCM_RIGHTS`` sender) arrive with the
        bytes the kernel delivered in the same read, and are queued at the stream
        position of that read's first byte.  This method returns the oldest queued
        batch once the receive position has reached it, with the bytes from there up
        to (not including) the next batch, so one call never mixes two batches.  A
        batch is never returned after the bytes it was sent with, but it may come with
        a few bytes sent just before them, which the kernel delivered in the same read.

        Nothing is dropped when other receive methods are used too: fds whose bytes
        were already taken by :meth:`receive`, :meth:`readline` and the like stay
        queued, and the next ``receive_fds()`` returns them at once, with the data
        buffered after them or, if none is, with empty ``data`` (the only case where
        ``data`` is empty).  Fds never handed out are closed by :meth:`aclose`.
        Received fds are close-on-exec; the caller owns them.

        Raises:
            ValueError: ``max_bytes`` or ``max_fds`` is less than 1.
            io.UnsupportedOperation: the stream is not over a Unix stream socket.
            aioipc.FdsTruncated: more fds came with the next bytes than ``max_fds``
                (nothing taken; ``pending`` says how many), or the kernel dropped fds
                on arrival (``lost``; the bytes stay buffered).
            anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError,
            anyio.BusyResourceError: as :meth:`receive`.
        """
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")
        if max_fds < 1:
            raise ValueError(f"max_fds must be at least 1, not {max_fds}")
        self._fd_channel("receive_fds")
        queue = self._fd_queue
        self._receive_guard.check()
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            position = self._fed - len(self._buffer)
            fds: list[int] = []
            if queue and queue[0].position <= position:
                batch = queue[0]
                if batch.truncated:
                    queue.popleft()
                    batch.close()
                    raise FdsTruncated(max_fds=max_fds, lost=True)
                if len(batch.fds) > max_fds:
                    raise FdsTruncated(pending=len(batch.fds), max_fds=max_fds, lost=False)
                queue.popleft()
                fds = batch.fds
                if queue and queue[0].position <= position:
                    # Another batch's bytes were taken too: keep the data for it.
                    return FdMessage(b"", fds)
            if self._buffer:
                limit = max_bytes
                if queue:
                    limit = min(limit, queue[0].position - position)
                data = self._buffer.take(limit)
                if self._read_paused:
                    self._maybe_resume_reading()
                return FdMessage(data, fds)
            if fds:
                return FdMessage(b"", fds)
            self._check_readable()
            if self._eof:
                raise anyio.EndOfStream
            # No handoff (max 0): data goes through the buffer, where position
            # bookkeeping sees it, and a cancellation leaves it there.
            if not self._read_now(0):
                await self._wait_for_data(0)

    async def _fill_until(
        self, take: Callable[[], bytes | None], *, at_eof: Callable[[], bytes]
    ) -> bytes:
        """Feed the buffer until ``take`` returns a frame; ``at_eof`` decides at EOF."""
        self._receive_guard.check()
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            frame = take()
            if frame is not None:
                if self._read_paused:
                    self._maybe_resume_reading()
                return frame
            self._check_readable()
            if self._eof:
                return at_eof()
            if self._read_paused:
                # The buffer is full and holds no frame: let more in, the frame
                # check above bounds how much.
                self._read_paused = False
                transport = self._read_transport
                if transport is not None:
                    transport.resume_reading()
            if not self._read_now(0):
                await self._wait_for_data(0)

    async def receive_exactly(self, count: int) -> bytes:
        """Return exactly ``count`` bytes.

        Raises:
            ValueError: ``count`` is negative.
            aioipc.IncompleteRead: the stream ended first; ``.partial`` has what came.
            anyio.ClosedResourceError, anyio.BrokenResourceError,
            anyio.BusyResourceError: as :meth:`receive`.
        """
        if count < 0:
            raise ValueError(f"count must not be negative, not {count}")

        if count and not self._buffer.size and not (self._closed or self._eof or self._read_error):
            # Fast path for message protocols: with nothing buffered, a chunk of exactly
            # the size asked for is handed over directly, without a trip through the
            # buffer.  Anything else goes back in front and the general path takes over.
            self._receive_guard.check()
            direct = self._read_now(count)
            if type(direct) is bytes:
                chunk: bytes | None = direct
            else:
                chunk = None if direct else await self._wait_for_data(count)
            if chunk is not None and len(chunk) == count:
                return chunk
            if chunk:
                self._buffer.unread(chunk)

        def at_eof() -> bytes:
            raise IncompleteRead(self._buffer.take_all(), count)

        return await self._fill_until(lambda: self._buffer.take_exactly(count), at_eof=at_eof)

    async def receive_until(self, delimiter: bytes, max_bytes: int) -> bytes:
        """Return the bytes before the next ``delimiter``, consuming the delimiter.

        Raises:
            ValueError: an empty delimiter or ``max_bytes`` below 1.
            aioipc.DelimiterNotFound: ``max_bytes`` bytes came without the delimiter;
                they stay buffered.
            aioipc.IncompleteRead: the stream ended before the delimiter;
                ``.partial`` has what came.
            anyio.ClosedResourceError, anyio.BrokenResourceError,
            anyio.BusyResourceError: as :meth:`receive`.
        """
        if not delimiter:
            raise ValueError("delimiter must not be empty")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")

        def at_eof() -> bytes:
            raise IncompleteRead(
                self._buffer.take_all(), None, awaited=f"the delimiter {delimiter!r}"
            )

        return await self._fill_until(
            lambda: self._buffer.take_until(delimiter, max_bytes), at_eof=at_eof
        )

    async def readline(self, *, limit: int = DEFAULT_LINE_LIMIT) -> bytes:
        """Return the next line without its ``\\n`` or ``\\r\\n`` terminator.

        A last line with no terminator is still returned; after it, EOF raises.

        Raises:
            ValueError: ``limit`` is less than 1.
            aioipc.LineTooLong: the line exceeds ``limit`` bytes; its bytes stay
                buffered, so the stream remains usable.
            anyio.EndOfStream: no more lines.
            anyio.ClosedResourceError, anyio.BrokenResourceError,
            anyio.BusyResourceError: as :meth:`receive`.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")

        def at_eof() -> bytes:
            last = self._buffer.take_last_line(limit)
            if last is None:
                raise anyio.EndOfStream
            return last

        return await self._fill_until(lambda: self._buffer.take_line(limit), at_eof=at_eof)

    async def lines(self, *, limit: int = DEFAULT_LINE_LIMIT) -> AsyncIterator[bytes]:
        """Iterate over lines (terminators removed) until end of stream.

        Raises:
            ValueError, aioipc.LineTooLong: as :meth:`readline`.
        """
        while True:
            try:
                line = await self.readline(limit=limit)
            except anyio.EndOfStream:
                return
            yield line

    # ----------------------------------------------------------------- sending

    def _check_writable(self) -> asyncio.WriteTransport:
        if self._closed:
            raise anyio.ClosedResourceError
        if self._write_shut:
            raise anyio.ClosedResourceError(f"{self._description}: send_eof() was called")
        transport = self._write_transport
        if transport is None:
            raise anyio.ClosedResourceError(f"{self._description} is read-only")
        if self._write_error is not None or transport.is_closing():
            raise BrokenPipe(
                f"cannot write to {self._description}: the reading end is closed"
            ) from self._write_error
        return transport

    async def send(self, item: bytes) -> None:
        """Send all of ``item``; wait while the channel's buffer is above its limit.

        Once more than 64 KiB is queued in the transport, ``send()`` waits for the
        channel to drain before returning, so a slow reader slows the sender down
        instead of making memory grow: at most 64 KiB plus the item being sent is
        ever queued.  If a send is cancelled while
        waiting, its data is already queued and will still be written.

        Raises:
            TypeError: ``item`` is not bytes-like.
            aioipc.BrokenPipe: the reading end is gone.
            anyio.ClosedResourceError: this stream was closed, is read-only, or had
                :meth:`send_eof` called.
            anyio.BusyResourceError: another task is sending on this stream.
        """
        if not isinstance(item, _BYTES_LIKE):
            raise TypeError(f"send() takes bytes, not {type(item).__name__}")
        self._send_guard.check()
        transport = self._write_transport
        if (
            transport is None
            or self._closed
            or self._write_shut
            or self._write_error is not None
            or transport.is_closing()
        ):
            transport = self._check_writable()  # raises the precise error
        if item:
            transport.write(item)
        if self._write_paused:
            await self._drain()
        if self._write_error is not None:  # the common case skips a call
            self._check_sent()

    def _check_sent(self) -> None:
        if self._write_error is not None and not self._closed:
            raise BrokenPipe(
                f"cannot write to {self._description}: the reading end is closed"
            ) from self._write_error

    async def _drain(self) -> None:
        """Wait until the transport resumes writing; the send guard is held meanwhile."""
        with self._send_guard:
            while self._write_paused and self._write_error is None and not self._closed:
                waiter: asyncio.Future[None] = self._loop.create_future()
                self._drain_waiter = waiter
                try:
                    await waiter
                finally:
                    self._drain_waiter = None

    async def send_line(self, line: str | bytes) -> None:
        """Send ``line`` followed by the stream's end-of-line (see :attr:`eol`).

        A ``str`` is encoded as UTF-8.

        Raises:
            TypeError: ``line`` is neither ``str`` nor bytes-like.
            ValueError: ``line`` already contains a newline.
            aioipc.BrokenPipe, anyio.ClosedResourceError: as :meth:`send`.
        """
        if isinstance(line, str):
            data = line.encode()
        elif isinstance(line, _BYTES_LIKE):
            data = bytes(line)
        else:
            raise TypeError(f"send_line() takes str or bytes, not {type(line).__name__}")
        if b"\n" in data:
            raise ValueError("send_line() got a line that contains a newline")
        await self.send(data + self._eol)

    async def send_fds(self, data: bytes, fds: Sequence[int | _HasFileno]) -> None:
        """Send ``data`` with the file descriptors ``fds`` attached (``SCM_RIGHTS``).

        The peer gets duplicates of ``fds``, riding on the first byte of ``data``;
        the caller keeps its own and may close them as soon as this returns (fds
        still queued behind earlier data are held as duplicates until sent).  Objects
        with a ``fileno()`` method (sockets, files) are accepted.  Back-pressure and
        cancellation work as in :meth:`send`.

        Raises:
            TypeError: ``data`` is not bytes-like, or an item of ``fds`` is neither an
                int nor has ``fileno()``.
            ValueError: ``data`` is empty (fds need a byte to ride on), an fd is not
                open, or there are more than 253 fds (the kernel's ``SCM_MAX_FD``).
            io.UnsupportedOperation: the stream is not over a Unix stream socket.
            OSError: the kernel refused the fds (``ETOOMANYREFS``: too many in flight).
            aioipc.BrokenPipe, anyio.ClosedResourceError, anyio.BusyResourceError: as
                :meth:`send`.
        """
        if not isinstance(data, _BYTES_LIKE):
            raise TypeError(f"send_fds() takes bytes, not {type(data).__name__}")
        if not data:
            raise ValueError("send_fds() needs at least one byte of data for the fds to ride on")
        transport = self._fd_channel("send_fds")
        numbers = _fd_numbers(fds)
        self._send_guard.check()
        self._check_writable()
        transport.write_fds(bytes(data), numbers)
        if self._write_paused:
            await self._drain()
        self._check_sent()

    async def send_eof(self) -> None:
        """Tell the peer no more data will come, keeping the receiving side open.

        On a socket this is ``shutdown(SHUT_WR)``; on a pipe the write end is closed
        once what is queued has been written.  A pty has no EOF of its own: send the
        terminal's EOF character (``b"\\x04"``) instead.

        Raises:
            anyio.ClosedResourceError: the stream was closed.
        """
        if self._closed:
            raise anyio.ClosedResourceError
        transport = self._write_transport
        if transport is None or self._write_shut:
            return
        self._write_shut = True
        if self._duplex:
            if transport.can_write_eof() and not transport.is_closing():
                transport.write_eof()
            return
        transport.close()
        await self._wait_closed([p for p in self._protocols if not p.reads])

    async def _wait_closed(self, protocols: list[_ChannelProtocol]) -> None:
        waiting = [p.closed for p in protocols if not p.closed.done()]
        if waiting:
            try:
                # One future (a socket) needs no gather around it.
                await asyncio.shield(waiting[0] if len(waiting) == 1 else asyncio.gather(*waiting))
            except asyncio.CancelledError:
                self._abort()
                raise
        else:
            await asyncio.sleep(0)

    # ----------------------------------------------------------------- closing

    async def aclose(self) -> None:
        """Close the stream and its fds; queued output is flushed first.

        Idempotent.  A task waiting in :meth:`receive` gets
        :class:`anyio.ClosedResourceError`; a task waiting in :meth:`send` returns.
        If the flush is cancelled (a peer that never reads), the channel is aborted
        and the unsent data dropped, so closing never hangs a cancelled task.
        """
        if not self._closed:
            self._closed = True
            self._close_queued_fds()
            for transport in {self._read_transport, self._write_transport}:
                if transport is not None and not transport.is_closing():
                    transport.close()
            self._wake_receiver()
            waiter = self._drain_waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        await self._wait_closed(self._protocols)

    def _abort(self) -> None:
        """Close at once, dropping queued output."""
        self._closed = True
        self._close_queued_fds()
        if self._write_transport is not None:
            self._write_transport.abort()
        if self._read_transport is not None:
            self._read_transport.close()
        self._wake_receiver()

    def _close_queued_fds(self) -> None:
        while self._fd_queue:
            self._fd_queue.popleft().close()


_T = TypeVar("_T", bound=asyncio.BaseTransport)


def _fd_numbers(fds: Sequence[int | _HasFileno]) -> list[int]:
    """Check ``fds`` for :meth:`Stream.send_fds` and return them as open fd numbers."""
    if isinstance(fds, (str, bytes)) or not isinstance(fds, Sequence):
        raise TypeError(f"fds must be a sequence of fds, not {type(fds).__name__}")
    if len(fds) > SCM_MAX_FD:
        raise ValueError(f"at most {SCM_MAX_FD} fds fit in one message, not {len(fds)}")
    numbers = []
    for index, item in enumerate(fds):
        if isinstance(item, bool) or not isinstance(item, int):
            fileno = getattr(item, "fileno", None)
            if fileno is None:
                raise TypeError(
                    f"fds[{index}] must be an int or have fileno(), not {type(item).__name__}"
                )
            item = fileno()
            if not isinstance(item, int):
                raise TypeError(f"fds[{index}].fileno() returned {item!r}, not an int")
        try:
            fcntl.fcntl(item, fcntl.F_GETFD)
        except (OSError, ValueError):
            raise ValueError(f"fds[{index}] is fd {item}, which is not open") from None
        numbers.append(item)
    return numbers


async def _connect(connect: Coroutine[Any, Any, tuple[_T, Any]]) -> _T:
    """Await a loop's ``connect_*`` call to its end, even if cancelled meanwhile.

    Once a loop has been handed an fd, only the loop knows whether it still holds it:
    uvloop closes the fd itself when a connect is interrupted, so closing our socket or
    file object afterwards would close the fd twice — or close somebody else's fd that
    got the same number meanwhile.  Letting the connect finish keeps ownership plain:
    a transport that exists owns the fd, and a connect that failed has closed it.  A
    cancellation is re-raised once the transport it produced has been closed.
    """
    task = asyncio.ensure_future(connect)
    try:
        transport, _ = await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            await asyncio.wait([task])
        if not task.cancelled() and task.exception() is None:
            task.result()[0].close()
        raise
    return transport


def _check_eol(eol: bytes) -> None:
    if eol not in (b"\n", b"\r\n"):
        raise ValueError(f"eol must be b'\\n' or b'\\r\\n', not {eol!r}")


def _close_fds(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            os.close(fd)


_FAMILY_NAMES = {
    int(socket.AF_UNIX): "Unix",
    int(socket.AF_INET): "TCP",
    int(socket.AF_INET6): "TCP",
}


def _family_name(family: int) -> str:
    return _FAMILY_NAMES.get(family, str(family))


def _format_address(family: int, address: Any) -> Any:
    if family == socket.AF_UNIX and isinstance(address, bytes):
        # Abstract addresses come back as bytes starting with NUL.
        return address
    if family in (socket.AF_INET, socket.AF_INET6):
        return address[:2]
    return address


async def socketpair(*, eol: bytes = b"\n") -> tuple[Stream, Stream]:
    r"""Return two connected :class:`Stream` objects over a Unix socketpair.

    Raises:
        ValueError: ``eol`` is not ``b"\n"`` or ``b"\r\n"``.
        OSError: the kernel refused the socketpair (e.g. out of fds).
    """
    _check_eol(eol)
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        first = await Stream.from_socket(left, eol=eol)
    except BaseException:
        right.close()
        raise
    try:
        second = await Stream.from_socket(right, eol=eol)
    except BaseException:
        await first.aclose()
        raise
    return first, second


async def pipe() -> tuple[Stream, Stream]:
    """Return ``(read_end, write_end)`` of a new kernel pipe, as streams.

    Raises:
        OSError: the kernel refused the pipe (e.g. out of fds).
    """
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        reader = await Stream.from_pipe_fds(read_fd=read_fd)
    except BaseException:
        os.close(write_fd)
        raise
    try:
        writer = await Stream.from_pipe_fds(write_fd=write_fd)
    except BaseException:
        await reader.aclose()
        raise
    return reader, writer
