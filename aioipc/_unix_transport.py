"""An asyncio transport for Unix stream sockets that can carry file descriptors.

Why aioipc has its own: file descriptors sent with ``SCM_RIGHTS`` ride on the bytes
they were sent with, and a plain ``recv()`` that reads those bytes makes the kernel
close them on the spot.  asyncio's socket transport and uvloop's (libuv's) both read
with ``recv()``, and both loops refuse ``add_reader`` on an fd one of their transports
owns, so no protocol on top of them could ever see an fd.  This transport drives the
socket itself with ``loop.add_reader``/``add_writer`` and reads every byte with
``recvmsg``, so fds that come with data are never lost; it feeds the same protocol a
Stream uses on every other channel, so buffering, back-pressure, EOF, cancellation and
the flush at close are the Stream's own code in every case.

Reading goes through one pre-allocated 256 KiB buffer (``recvmsg_into``) and hands
the protocol an exact-size ``bytes`` copy: allocating a fresh 256 KiB object per
read, as ``recv(262144)`` does, costs more than the copy for small messages.  The
reader stays registered while reading is on; it is removed only by
:meth:`~UnixSocketTransport.pause_reading` (re-registering for every wait is slow on
uvloop).

The ancillary buffer has room for ``SCM_MAX_FD`` (253) descriptors, the most one
``sendmsg`` can carry, so the kernel truncates (``MSG_CTRUNC``) only when this process
cannot take more fds; the protocol is told, and the Stream reports it.  Received fds
are close-on-exec (``MSG_CMSG_CLOEXEC``).
"""

from __future__ import annotations

import array
import asyncio
import collections
import errno
import os
import socket
import warnings
from collections.abc import Iterable
from typing import Any, Protocol, cast

__all__ = ["SCM_MAX_FD", "FdProtocol", "UnixSocketTransport"]

#: The most fds one ``sendmsg`` may carry on Linux (``SCM_MAX_FD`` in the kernel).
SCM_MAX_FD = 253
#: Bytes read per ``recvmsg``: asyncio's own socket transport reads as much.
READ_SIZE = 64 * 1024
_FD_SIZE = array.array("i").itemsize
# Room for a full SCM_RIGHTS message and, should the caller have enabled SO_PASSCRED,
# the credentials message the kernel then adds to every read.
_ANCILLARY_SIZE = socket.CMSG_SPACE(SCM_MAX_FD * _FD_SIZE) + socket.CMSG_SPACE(64)
# Plain ints: the socket module's are IntFlag members, whose & is a slow Python call.
_MSG_CTRUNC = int(socket.MSG_CTRUNC)
_MSG_CMSG_CLOEXEC = int(socket.MSG_CMSG_CLOEXEC)
# writev() takes at most this many buffers at once.
_IOV_MAX = min(os.sysconf("SC_IOV_MAX"), 1024)
_DEFAULT_HIGH_WATER = 64 * 1024


class FdProtocol(Protocol):
    """What this transport calls on a protocol besides :class:`asyncio.Protocol`'s methods."""

    def fds_received(self, data: bytes, fds: list[int], truncated: bool) -> None:
        """``data`` arrived together with ``fds``, which the protocol now owns.

        ``truncated`` is true when the kernel dropped some fds (``MSG_CTRUNC``).
        """


class _Outgoing:
    """Queued data that carries fds: sent with ``sendmsg`` and ``SCM_RIGHTS``.

    The fds are duplicates this transport owns until the kernel has taken them, so
    the caller may close its own as soon as the write call returns.
    """

    __slots__ = ("data", "fds")

    def __init__(self, data: bytes, fds: list[int]) -> None:
        self.data = data
        self.fds = fds

    def __len__(self) -> int:
        return len(self.data)

    def close_fds(self) -> None:
        fds, self.fds = self.fds, []
        for fd in fds:
            os.close(fd)


_Chunk = bytes | memoryview | _Outgoing


class UnixSocketTransport(asyncio.Transport):
    """A bidirectional transport over a connected Unix stream socket, fds included.

    The transport owns ``sock`` (made non-blocking here) and closes it after
    ``protocol.connection_lost``.  ``protocol.connection_made`` is called from the
    constructor and reading starts at once.  Data written with :meth:`write_fds`
    carries fds to the peer; data that arrives with fds is delivered through
    ``protocol.fds_received`` instead of ``data_received``, in order with the rest.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol: asyncio.Protocol,
    ) -> None:
        """Take over ``sock`` and start reading.

        Raises:
            ValueError: ``sock`` is not a Unix stream socket.
        """
        if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
            raise ValueError(
                f"UnixSocketTransport needs an AF_UNIX SOCK_STREAM socket, not {sock!r}"
            )
        super().__init__()
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        sock.setblocking(False)
        self._protocol: asyncio.Protocol = protocol
        self._write_buffer: collections.deque[_Chunk] = collections.deque()
        self._write_size = 0
        self._high_water = _DEFAULT_HIGH_WATER
        self._low_water = _DEFAULT_HIGH_WATER // 4
        self._protocol_paused = False
        self._reading = False  # the reader is registered with the loop
        self._read_paused = False
        self._eof_received = False
        self._eof_requested = False
        self._closing = False
        self._lost = False  # connection_lost is scheduled or done
        self._extra: dict[str, Any] = {"socket": sock}
        for key, getter in (("sockname", sock.getsockname), ("peername", sock.getpeername)):
            try:
                self._extra[key] = getter()
            except OSError:
                self._extra[key] = None
        protocol.connection_made(self)
        self._start_reading()

    def __repr__(self) -> str:
        state = "closed" if self._lost else "closing" if self._closing else "open"
        return f"<UnixSocketTransport fd={self._fd} {state}>"

    def __del__(self, _warn: Any = warnings.warn) -> None:
        sock = getattr(self, "_sock", None)
        if sock is not None and sock.fileno() >= 0:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            sock.close()

    # ----------------------------------------------------------------- BaseTransport

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Return ``"socket"``, ``"sockname"`` or ``"peername"``, else ``default``."""
        return self._extra.get(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        """Deliver events to ``protocol`` from now on."""
        self._protocol = cast(asyncio.Protocol, protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        """Return the protocol events go to."""
        return self._protocol

    def is_closing(self) -> bool:
        """Return true once :meth:`close` or :meth:`abort` was called or the socket failed."""
        return self._closing

    def close(self) -> None:
        """Stop reading; close the socket once queued data has been written.

        ``protocol.connection_lost(None)`` is called (soon, from the loop) when it is
        closed.  Idempotent.
        """
        if self._closing:
            return
        self._closing = True
        self._stop_reading()
        if not self._write_buffer:
            self._schedule_connection_lost(None)

    def abort(self) -> None:
        """Close at once, dropping queued data; ``connection_lost(None)`` follows."""
        self._force_close(None)

    # ----------------------------------------------------------------- reading

    def is_reading(self) -> bool:
        """Return true while the transport reads from the socket."""
        return not self._closing and not self._read_paused and not self._eof_received

    def pause_reading(self) -> None:
        """Stop reading until :meth:`resume_reading`; the peer's writes back up."""
        if self._closing or self._read_paused:
            return
        self._read_paused = True
        self._stop_reading()

    def resume_reading(self) -> None:
        """Read again after :meth:`pause_reading`."""
        if self._closing or not self._read_paused:
            return
        self._read_paused = False
        self._start_reading()

    def _start_reading(self) -> None:
        if not self._reading and not self._eof_received:
            self._reading = True
            self._loop.add_reader(self._fd, self._read_ready)

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def read_now(self) -> bytes | bool:
        """Read what the socket has right now, without waiting for the loop.

        Plain data is returned to the caller rather than given to the protocol, so a
        stream can hand it straight to a waiting receiver.  Anything else is delivered
        as the reader callback would deliver it (data with fds, EOF, an error) and
        gives true; nothing to read gives false, as does a paused or finished reader.
        """
        if not self._reading:
            return False
        # The whole read is in this one function: it is the hot path of every small
        # message.
        try:
            data, ancillary, flags, _ = self._sock.recvmsg(
                READ_SIZE, _ANCILLARY_SIZE, _MSG_CMSG_CLOEXEC
            )
        except (BlockingIOError, InterruptedError):
            return False
        except Exception as exc:
            self._fatal_error(exc, "read error on Unix socket transport")
            return True
        if ancillary or flags & _MSG_CTRUNC:
            # fds always come with at least one byte, so data is not empty here.
            fds = _unpack_fds(ancillary)
            fds_received = getattr(self._protocol, "fds_received", None)
            if fds_received is None:
                # A protocol that cannot take fds must not make us leak them.
                _close_all(fds)
                self._protocol.data_received(data)
            else:
                fds_received(data, fds, bool(flags & _MSG_CTRUNC))
            return True
        if data:
            return data
        self._eof_received = True
        self._stop_reading()
        if not self._protocol.eof_received():
            self.close()
        return True

    def _read_ready(self) -> None:
        data = self.read_now()
        if type(data) is bytes:
            self._protocol.data_received(data)

    # ----------------------------------------------------------------- writing

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data`` for the peer, writing as much as the socket takes right away.

        Raises:
            TypeError: ``data`` is not bytes-like.
            RuntimeError: :meth:`write_eof` was called.
        """
        if type(data) is bytes and not (
            self._write_buffer or self._closing or self._eof_requested
        ):
            # The common case, kept short: nothing queued, the socket takes it all.
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except Exception as exc:
                self._fatal_error(exc, "write error on Unix socket transport")
                return
            if sent != len(data):
                self._loop.add_writer(self._fd, self._write_ready)
                self._queue(memoryview(data)[sent:])
            return
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        if self._eof_requested:
            raise RuntimeError("cannot write after write_eof()")
        if self._closing or not data:
            return
        # A copy: the caller may change a bytearray once we return, and len() of a
        # memoryview counts items, not bytes.
        data = bytes(data)
        if self._write_buffer:
            self._queue(data)
        else:
            self.write(data)

    def _queue(self, chunk: _Chunk) -> None:
        self._write_buffer.append(chunk)
        self._write_size += len(chunk)
        self._maybe_pause_protocol()

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        """Write the concatenation of ``list_of_data``.

        Raises:
            TypeError, RuntimeError: as :meth:`write`.
        """
        self.write(b"".join(list_of_data))

    def write_fds(self, data: bytes, fds: list[int]) -> None:
        """Queue ``data`` with ``fds`` attached (``SCM_RIGHTS``), in order with writes.

        The caller keeps its fds: they are sent as they are when the socket takes the
        data at once, and duplicated otherwise, so they may be closed as soon as this
        returns.  Errors that concern the fds themselves are raised here, before
        anything was queued; the transport stays usable.

        Raises:
            ValueError: ``data`` is empty (fds need at least one byte to ride on), or
                there are more than 253 fds.
            RuntimeError: :meth:`write_eof` was called.
            OSError: the kernel refused the fds (``EBADF``: one is not open;
                ``ETOOMANYREFS``: too many fds in flight).
        """
        if not data:
            raise ValueError("file descriptors need at least one byte of data to ride on")
        if len(fds) > SCM_MAX_FD:
            raise ValueError(f"at most {SCM_MAX_FD} fds fit in one message, not {len(fds)}")
        if self._eof_requested:
            raise RuntimeError("cannot write after write_eof()")
        if self._closing:
            return
        if not fds:
            self.write(data)
            return
        if not self._write_buffer:
            try:
                sent = self._sock.sendmsg([data], [_rights(fds)])
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                if exc.errno in (errno.EBADF, errno.EINVAL, errno.ETOOMANYREFS):
                    raise  # about the fds: nothing was sent, the stream is fine
                self._fatal_error(exc, "write error on Unix socket transport")
                return
            if sent == len(data):
                return
            self._loop.add_writer(self._fd, self._write_ready)
            if sent:
                # The fds went with the first byte: the rest is plain data.
                self._queue(memoryview(data)[sent:])
                return
        copies: list[int] = []
        try:
            for fd in fds:
                copies.append(os.dup(fd))  # os.dup() makes the copy close-on-exec
        except BaseException:
            _close_all(copies)
            raise
        self._queue(_Outgoing(bytes(data), copies))

    def can_write_eof(self) -> bool:
        """Return true: a Unix stream socket can be shut down for writing."""
        return True

    def write_eof(self) -> None:
        """Shut down the sending side (``SHUT_WR``) once queued data has been written."""
        if self._closing or self._eof_requested:
            return
        self._eof_requested = True
        if not self._write_buffer:
            self._shutdown_write()

    def get_write_buffer_size(self) -> int:
        """Return the number of bytes queued and not yet taken by the kernel."""
        return self._write_size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        """Return ``(low, high)``: the water marks for pause_writing/resume_writing."""
        return self._low_water, self._high_water

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Set the water marks, with asyncio's defaults (64 KiB, a quarter of high).

        Raises:
            ValueError: ``high`` is below ``low`` or either is negative.
        """
        if high is None:
            high = _DEFAULT_HIGH_WATER if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high_water, self._low_water = high, low
        self._maybe_pause_protocol()

    def _write_ready(self) -> None:
        buffer = self._write_buffer
        while buffer:
            head = buffer[0]
            try:
                if isinstance(head, _Outgoing):
                    sent = self._sock.sendmsg([head.data], [_rights(head.fds)])
                    head.close_fds()  # the kernel holds its own references now
                elif len(buffer) == 1 or isinstance(buffer[1], _Outgoing):
                    sent = self._sock.send(head)
                else:
                    sent = self._sock.sendmsg(_plain_prefix(buffer))
            except (BlockingIOError, InterruptedError):
                break
            except Exception as exc:
                self._fatal_error(exc, "write error on Unix socket transport")
                return
            self._write_size -= sent
            if not self._consume(sent):
                break  # the socket is full
        self._maybe_resume_protocol()
        if buffer:
            return
        self._loop.remove_writer(self._fd)
        if self._closing:
            self._schedule_connection_lost(None)
        elif self._eof_requested:
            self._shutdown_write()

    def _consume(self, sent: int) -> bool:
        """Drop ``sent`` bytes from the front of the queue; true if all went."""
        buffer = self._write_buffer
        while sent:
            head = buffer[0]
            size = len(head)
            if sent >= size:
                buffer.popleft()
                sent -= size
                continue
            data = head.data if isinstance(head, _Outgoing) else head
            buffer[0] = memoryview(data)[sent:]
            return False
        return True

    def _shutdown_write(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            if exc.errno != errno.ENOTCONN:  # the peer is gone: nothing to tell it
                self._fatal_error(exc, "shutdown error on Unix socket transport")

    def _maybe_pause_protocol(self) -> None:
        if self._write_size > self._high_water and not self._protocol_paused:
            self._protocol_paused = True
            self._call_protocol(self._protocol.pause_writing)

    def _maybe_resume_protocol(self) -> None:
        if self._protocol_paused and self._write_size <= self._low_water:
            self._protocol_paused = False
            self._call_protocol(self._protocol.resume_writing)

    def _call_protocol(self, method: Any) -> None:
        try:
            method()
        except Exception as exc:
            self._loop.call_exception_handler(
                {
                    "message": f"protocol.{method.__name__}() failed",
                    "exception": exc,
                    "transport": self,
                    "protocol": self._protocol,
                }
            )

    # ----------------------------------------------------------------- closing

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        # OS errors (a peer that went away, mostly) are the protocol's to report, as
        # in asyncio's transports; anything else is a bug worth the loop's handler.
        if not isinstance(exc, OSError):
            self._loop.call_exception_handler(
                {
                    "message": message,
                    "exception": exc,
                    "transport": self,
                    "protocol": self._protocol,
                }
            )
        self._force_close(exc)

    def _force_close(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        self._closing = True
        self._stop_reading()
        if self._write_buffer:
            self._loop.remove_writer(self._fd)
            for chunk in self._write_buffer:
                if isinstance(chunk, _Outgoing):
                    chunk.close_fds()
            self._write_buffer.clear()
            self._write_size = 0
        self._schedule_connection_lost(exc)

    def _schedule_connection_lost(self, exc: BaseException | None) -> None:
        if not self._lost:
            self._lost = True
            self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        try:
            self._protocol.connection_lost(cast("Exception | None", exc))
        finally:
            self._sock.close()


def _rights(fds: list[int]) -> tuple[int, int, bytes]:
    return (socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())


def _unpack_fds(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            # A truncated message may end in a partial fd: keep the whole ones.
            fds.frombytes(data[: len(data) - len(data) % _FD_SIZE])
    return fds.tolist()


def _plain_prefix(buffer: collections.deque[_Chunk]) -> list[bytes | memoryview]:
    """The plain chunks at the front of ``buffer``, up to the first with fds."""
    chunks: list[bytes | memoryview] = []
    for chunk in buffer:
        if isinstance(chunk, _Outgoing) or len(chunks) == _IOV_MAX:
            break
        chunks.append(chunk)
    return chunks


def _close_all(fds: Iterable[int]) -> None:
    for fd in fds:
        os.close(fd)
