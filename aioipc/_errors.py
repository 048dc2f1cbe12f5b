"""The exception hierarchy, and the one place where OS errors become aioipc errors.

Every exception aioipc raises on purpose derives from :class:`IPCError`, so callers can
catch "anything aioipc reported" in one clause.  Where the standard library or anyio
already has a name for the situation, the aioipc class *also* derives from it, so code
written against ``BrokenPipeError``, ``TimeoutError``, ``subprocess.CalledProcessError``
or anyio's stream exceptions keeps working unchanged.
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Sequence

import anyio

__all__ = [
    "AlreadyRunning",
    "BrokenPipe",
    "DaemonizeError",
    "DatagramTooLarge",
    "DatagramTruncated",
    "DelimiterNotFound",
    "ExpectEOF",
    "ExpectTimeout",
    "FdsTruncated",
    "IPCError",
    "IPCTimeoutError",
    "IncompleteRead",
    "LineTooLong",
    "NotMainThreadError",
    "NotifyError",
    "PipelineError",
    "ProcessError",
    "SysVRemoved",
]

#: How many bytes of a child's stderr an error message quotes.
STDERR_TAIL_BYTES = 2048


class IPCError(Exception):
    """Root of every exception aioipc raises deliberately."""


class BrokenPipe(IPCError, BrokenPipeError, anyio.BrokenResourceError):
    """A write went to a pipe or socket whose reading end is gone.

    It is a :class:`BrokenPipeError` (so ``errno`` is ``EPIPE``) and an
    :class:`anyio.BrokenResourceError` (so anyio stream code catches it).  When the
    reader was a command aioipc started, ``argv`` and ``returncode`` say which one and
    how it ended.
    """

    def __init__(
        self,
        message: str,
        *,
        argv: Sequence[str] | None = None,
        returncode: int | None = None,
    ) -> None:
        BrokenPipeError.__init__(self, errno.EPIPE, message)
        self.argv = list(argv) if argv is not None else None
        self.returncode = returncode

    def __str__(self) -> str:
        return str(self.strerror)


class IncompleteRead(IPCError, anyio.IncompleteRead):
    """The stream ended before the requested number of bytes arrived.

    ``partial`` holds the bytes that did arrive, so nothing read is lost;
    ``expected`` is the number that was asked for, or ``None`` when a delimiter was
    awaited instead.
    """

    def __init__(self, partial: bytes, expected: int | None, *, awaited: str = "") -> None:
        if expected is not None:
            message = f"the stream ended after {len(partial)} of {expected} expected bytes"
        else:
            message = f"the stream ended after {len(partial)} bytes, before {awaited}"
        Exception.__init__(self, message)
        self.partial = partial
        self.expected = expected


class DelimiterNotFound(IPCError, anyio.DelimiterNotFound):
    """No delimiter was found within ``max_bytes`` bytes of buffered input.

    The stream is left usable: the bytes already received stay buffered and can be
    read with :meth:`aioipc.Stream.receive`.
    """

    def __init__(self, delimiter: bytes, max_bytes: int) -> None:
        Exception.__init__(
            self,
            f"no delimiter {delimiter!r} within the first {max_bytes} bytes of the stream",
        )
        self.delimiter = delimiter
        self.max_bytes = max_bytes


class LineTooLong(DelimiterNotFound):
    """A line exceeded the line limit before its terminator arrived.

    Raised by :meth:`aioipc.Stream.readline` and :meth:`aioipc.Stream.lines`; the
    over-long bytes stay buffered, so the caller may drain them or close the stream.
    """

    def __init__(self, limit: int) -> None:
        Exception.__init__(
            self,
            f"line longer than the limit of {limit} bytes; "
            "raise the limit= argument or read the data with receive()",
        )
        self.delimiter = b"\n"
        self.max_bytes = limit
        self.limit = limit


class FdsTruncated(IPCError):
    """File descriptors that came with the data could not all be delivered.

    Raised by :meth:`aioipc.Stream.receive_fds` in two cases, told apart by ``lost``:

    * ``lost`` is false: more fds (``pending``) came with the next bytes than the
      call's ``max_fds`` allows.  Nothing was taken: the bytes and the fds stay queued,
      and a call with ``max_fds`` of at least ``pending`` gets them.
    * ``lost`` is true: the kernel truncated the fds on arrival (``MSG_CTRUNC``),
      typically because this process had no fd numbers left (``RLIMIT_NOFILE``).  The
      fds that did arrive have been closed; the bytes they came with stay buffered and
      the next receive returns them.
    """

    def __init__(self, *, pending: int = 0, max_fds: int, lost: bool) -> None:
        if lost:
            message = (
                "the kernel truncated the file descriptors sent with the next bytes "
                "(MSG_CTRUNC: this process may be out of fds, see RLIMIT_NOFILE); "
                "the ones that arrived were closed, the bytes are still buffered"
            )
        else:
            message = (
                f"{pending} file descriptors came with the next bytes but max_fds is "
                f"{max_fds}; nothing was taken: receive again with max_fds={pending} or more"
            )
        Exception.__init__(self, message)
        self.pending = pending
        self.max_fds = max_fds
        self.lost = lost


class NotMainThreadError(IPCError, RuntimeError):
    """A signal facility was used off the main thread.

    CPython delivers signals to the main thread only and ``signal.set_wakeup_fd`` may
    only be called there, so signal handlers can be installed from the main thread's
    event loop alone.
    """


class IPCTimeoutError(IPCError, TimeoutError):
    """An aioipc operation ran out of time.

    ``partial`` carries whatever output had been collected when time ran out.
    """

    def __init__(self, message: str, *, partial: bytes = b"") -> None:
        TimeoutError.__init__(self, message)
        self.partial = partial


class ProcessError(IPCError, subprocess.CalledProcessError):
    """A child process ended unsuccessfully.

    Carries ``argv``, ``pid``, ``returncode`` (negative for a signal, as in
    :mod:`subprocess`), the captured ``stdout`` and ``stderr`` when there are any, and
    puts the tail of stderr in the message.
    """

    def __init__(
        self,
        argv: Sequence[str],
        returncode: int,
        *,
        pid: int | None = None,
        stdout: bytes | None = None,
        stderr: bytes | None = None,
    ) -> None:
        subprocess.CalledProcessError.__init__(
            self, returncode, list(argv), output=stdout, stderr=stderr
        )
        self.argv = list(argv)
        self.pid = pid

    def __str__(self) -> str:
        import signal

        if self.returncode < 0:
            try:
                how = f"was killed by {signal.Signals(-self.returncode).name}"
            except ValueError:
                how = f"was killed by signal {-self.returncode}"
        else:
            how = f"exited with status {self.returncode}"
        text = f"command {self.argv!r}"
        if self.pid is not None:
            text += f" (pid {self.pid})"
        text += f" {how}"
        if self.stderr:
            tail = bytes(self.stderr[-STDERR_TAIL_BYTES:]).decode("utf-8", "replace").rstrip()
            text += f"; stderr ends with:\n{tail}"
        return text


def _how_it_ended(returncode: int) -> str:
    import signal

    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


class PipelineError(ProcessError):
    """One or more stages of a pipeline failed (pipefail).

    ``failed_stages`` lists each failed stage as ``(position, argv, returncode, pid)``,
    positions counting from 1.  The inherited ``argv``, ``returncode`` and ``pid`` are
    those of the last failed stage -- the status a shell's ``pipefail`` reports --
    and ``stdout`` holds the pipeline's output when it was read with
    ``communicate()``.
    """

    def __init__(
        self,
        failed_stages: Sequence[tuple[int, Sequence[str], int, int | None]],
        *,
        length: int,
        stdout: bytes | None = None,
    ) -> None:
        if not failed_stages:
            raise ValueError("PipelineError needs at least one failed stage")
        _, argv, returncode, pid = failed_stages[-1]
        super().__init__(argv, returncode, pid=pid, stdout=stdout)
        self.failed_stages = [
            (position, list(stage_argv), code, stage_pid)
            for position, stage_argv, code, stage_pid in failed_stages
        ]
        self.length = length

    def __str__(self) -> str:
        parts = []
        for position, argv, returncode, pid in self.failed_stages:
            where = f" (pid {pid})" if pid is not None else ""
            parts.append(
                f"stage {position} of {self.length}, {argv!r}{where}, {_how_it_ended(returncode)}"
            )
        return "pipeline failed: " + "; ".join(parts)


class DatagramTooLarge(IPCError, ValueError):
    """A datagram was too large to send (``EMSGSIZE``).

    ``size`` is the datagram's length and ``limit`` the largest this socket can send:
    65,507 bytes over IPv4 UDP, 65,527 over IPv6, and for a Unix datagram socket its
    send buffer (``SO_SNDBUF``) less 32 bytes.  Nothing was sent; the socket stays
    usable.
    """

    def __init__(self, size: int, limit: int, where: str) -> None:
        ValueError.__init__(
            self,
            f"datagram of {size} bytes is too large for {where}: the limit is {limit} bytes "
            "(a datagram is sent whole or not at all; split it, or use a stream)",
        )
        self.size = size
        self.limit = limit


class DatagramTruncated(IPCError):
    """A received datagram was larger than the socket's ``max_size``.

    The kernel delivers a datagram whole or not at all, so the rest is gone; ``data``
    holds the first ``limit`` bytes, ``size`` the datagram's real length and ``address``
    its sender.  The socket stays usable: the next :meth:`aioipc.DatagramSocket.receive`
    returns the next datagram.  Open the socket with a larger ``max_size`` to receive
    such datagrams whole.
    """

    def __init__(self, data: bytes, size: int, limit: int, address: object) -> None:
        Exception.__init__(
            self,
            f"received a datagram of {size} bytes from {address!r}, larger than "
            f"max_size={limit}: only the first {limit} bytes arrived "
            "(open the socket with a larger max_size)",
        )
        self.data = data
        self.size = size
        self.limit = limit
        self.address = address


class SysVRemoved(IPCError):
    """A SysV IPC object was removed (``IPC_RMID``) while this process waited on it.

    Raised by the waits of :mod:`aioipc.sysv` (``Semaphore.acquire``,
    ``Semaphore.wait_zero``, ``MessageQueue.send`` and ``receive``) when another process
    -- or this one -- removes the semaphore set or message queue, which the kernel
    reports as ``EIDRM`` to a blocked caller and as ``EINVAL`` to the next one.  Also
    raised when an operation meets an object that is already gone.  ``object`` names
    what was being waited on (its kind, key and id).
    """

    def __init__(self, description: str, *, while_waiting: bool = True) -> None:
        if while_waiting:
            message = f"{description} was removed while waiting"
        else:
            message = f"{description} no longer exists (it was removed)"
        Exception.__init__(self, message)
        self.object = description


class NotifyError(IPCError, OSError):
    """A message to the service manager over ``$NOTIFY_SOCKET`` could not be sent.

    Raised by :func:`aioipc.systemd.notify` when the socket named by ``NOTIFY_SOCKET``
    is gone (``ENOENT``, ``ECONNREFUSED``: the manager closed it), not ours to write
    (``EACCES``), full (``EAGAIN``: the manager is not reading), or when the variable
    holds an address that is neither an absolute path nor ``@abstract``.  It is an
    :class:`OSError` whose ``errno`` is the cause's; ``socket`` is the address as the
    variable gave it.
    """

    def __init__(self, error_number: int, message: str, socket: str) -> None:
        OSError.__init__(self, error_number, message)
        self.socket = socket

    def __str__(self) -> str:
        return str(self.strerror)


def _expect_context(tail: bytes, patterns: str) -> str:
    return f"while waiting for {patterns}; the last bytes read were {tail!r}"


class ExpectTimeout(IPCTimeoutError):
    """:meth:`aioipc.Terminal.expect` ran out of time before any pattern matched.

    ``patterns`` describes what was awaited; ``tail`` holds the last bytes read (up to
    200), which the message shows; ``partial`` is everything still unmatched.  The
    unmatched bytes stay buffered, so a later ``expect`` can still see them.
    """

    def __init__(self, timeout: float, patterns: str, tail: bytes, *, partial: bytes) -> None:
        IPCTimeoutError.__init__(
            self,
            f"no match within {timeout:g} s " + _expect_context(tail, patterns),
            partial=partial,
        )
        self.patterns = patterns
        self.tail = tail


class ExpectEOF(IPCError, anyio.EndOfStream):
    """The terminal's output ended before any pattern of :meth:`aioipc.Terminal.expect`
    matched (the child exited or closed the terminal).

    ``patterns`` describes what was awaited; ``tail`` holds the last bytes read (up to
    200), which the message shows; ``before`` is everything that was left unmatched.
    """

    def __init__(self, patterns: str, tail: bytes, *, before: bytes) -> None:
        Exception.__init__(self, "end of output " + _expect_context(tail, patterns))
        self.patterns = patterns
        self.tail = tail
        self.before = before


class DaemonizeError(IPCError, RuntimeError):
    """:func:`aioipc.daemonize` or :func:`aioipc.reexec` cannot do what was asked.

    Raised by ``daemonize()`` when it is called with an event loop running or set in
    this thread, with other threads alive, or off the main thread -- a forked daemon
    would inherit the loop's fds and lose its threads -- and when the daemon died before
    reporting how its setup went.  Raised by ``reexec()`` when it cannot rebuild this
    program's command line.  It is a :class:`RuntimeError`.
    """


class AlreadyRunning(DaemonizeError):
    """Another instance holds the pidfile's lock: :func:`aioipc.daemonize` refused to start.

    Raised in the calling process, so the error appears in the terminal that tried to
    start a second instance: before any fork when the pidfile is already locked, or
    after the daemon reported back when two instances raced to create a new pidfile
    and the other won.  ``pidfile`` is the path (absolute) and ``pid`` the pid written
    in it, or None when no live pid could be read from it.
    """

    def __init__(self, pidfile: str, pid: int | None) -> None:
        running = f"as pid {pid}" if pid is not None else "(its pid is not written yet)"
        Exception.__init__(
            self, f"already running {running}: pidfile {pidfile} is locked by that process"
        )
        self.pidfile = pidfile
        self.pid = pid
