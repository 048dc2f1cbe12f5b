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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import anyio

__all__ = [
    "BrokenPipe",
    "DelimiterNotFound",
    "IPCError",
    "IPCTimeoutError",
    "IncompleteRead",
    "LineTooLong",
    "NotMainThreadError",
    "ProcessError",
    "map_os_errors",
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
    ``expected`` is the number that was asked for.
    """

    def __init__(self, partial: bytes, expected: int) -> None:
        Exception.__init__(
            self,
            f"the stream ended after {len(partial)} of {expected} expected bytes",
        )
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


@contextmanager
def map_os_errors(what: str) -> Iterator[None]:
    """Translate the OS errors of a stream operation into aioipc's vocabulary.

    ``what`` names the channel for the message (``"pipe fd 7"``).  The original
    exception is kept as ``__cause__``.  Errors with no aioipc meaning pass through.
    """
    try:
        yield
    except BrokenPipeError as exc:
        if isinstance(exc, BrokenPipe):
            raise
        raise BrokenPipe(f"cannot write to {what}: the reading end is closed") from exc
    except ConnectionResetError as exc:
        raise anyio.BrokenResourceError(f"{what} was reset by the peer") from exc
