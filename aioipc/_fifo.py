"""Named pipes (FIFOs): create them, test for them, and open either end without blocking.

Opening a FIFO blocks in ``open()`` until the other end is opened too, which would park
a thread that cannot be cancelled.  aioipc never does that:

* The write end is opened ``O_WRONLY | O_NONBLOCK``.  With no reader that fails with
  ``ENXIO``; the open is retried on a short timer (1 ms, doubling to 10 ms), so the wait
  is a plain ``asyncio.sleep`` — cancellable, no thread — and ends within about 10 ms of
  a reader arriving, including a reader that is itself blocked in ``open()`` (``cat
  fifo``, Perl's ``open "<"``), which inotify's ``IN_OPEN`` would not report.
* The read end is opened ``O_RDONLY | O_NONBLOCK``, which succeeds at once.  A
  ``read()`` on it would return EOF until a writer comes, and asyncio's pipe transport
  treats EOF as final — but the transports only read when the loop reports the fd
  readable, and Linux reports a FIFO's read end readable (``POLLHUP``) only once a
  writer *that opened after this reader* has gone (``pipe_poll`` compares the writer
  counter with the one saved at open).  So the stream never sees that spurious EOF: its
  first ``receive()`` simply waits for the first writer's data, and ends with EOF when
  the last writer closes.  There is no way to see that a writer has connected before it
  writes or closes (neither ``poll`` nor ``FIONREAD`` tell), so ``open_fifo(path, "r")``
  does not wait for one.
* ``keep_open=True`` opens the read end ``O_RDWR`` (Linux defines that for FIFOs): the
  reader is then a writer of its own FIFO, so it never sees EOF while other writers
  come and go, and writers never block or fail for want of a reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat
from collections.abc import AsyncIterator
from typing import Union

from ._streams import Stream

__all__ = ["is_fifo", "mkfifo", "open_fifo"]

StrPath = Union[str, "os.PathLike[str]"]

#: First and longest pause between attempts to open a FIFO's write end with no reader.
_FIRST_RETRY = 0.001
_LONGEST_RETRY = 0.01


def mkfifo(path: StrPath, mode: int = 0o600, exist_ok: bool = False) -> None:
    """Create a FIFO (named pipe) at ``path`` with permissions ``mode`` (less the umask).

    With ``exist_ok=True`` an existing FIFO at ``path`` is accepted as it is (its mode
    is not changed).  Anything else already there — a regular file, a directory, a
    socket, a symbolic link, even one that points at a FIFO — is never touched.

    Raises:
        FileExistsError: something is at ``path`` already (with ``exist_ok``: something
            other than a FIFO); the message names the path and what is there.
        OSError: as ``os.mkfifo`` (a missing directory, no permission).
    """
    try:
        os.mkfifo(path, mode)
    except FileExistsError:
        try:
            existing = os.lstat(path).st_mode
        except FileNotFoundError:  # removed in between: try once more
            os.mkfifo(path, mode)
            return
        if exist_ok and stat.S_ISFIFO(existing):
            return
        what = "a FIFO" if stat.S_ISFIFO(existing) else _describe(existing)
        raise FileExistsError(
            errno.EEXIST, f"cannot create a FIFO: {os.fspath(path)!r} exists and is {what}"
        ) from None


def is_fifo(path: StrPath) -> bool:
    """Return whether ``path`` is a FIFO (following symbolic links, like ``os.path.isfile``).

    A path that does not exist or cannot be examined is not a FIFO: this never raises.
    """
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def open_fifo(
    path: StrPath, mode: str, *, keep_open: bool = False
) -> contextlib.AbstractAsyncContextManager[Stream]:
    """Open one end of the FIFO at ``path``: ``async with open_fifo(path, "w") as f``.

    ``mode`` is ``"r"`` for the read end or ``"w"`` for the write end; the block gets a
    one-way :class:`Stream` and leaving it closes the stream.

    * ``"w"`` waits until some process has the FIFO open for reading.  The wait never
      blocks the loop, leaves no thread stuck in ``open()``, can be cancelled (and then
      leaves no fd open), and ends within about 10 ms of a reader arriving.  Once open,
      ``send`` raises :class:`aioipc.BrokenPipe` when every reader has gone.
    * ``"r"`` opens at once, without waiting for a writer; ``receive()`` waits for the
      first writer's data and raises :class:`anyio.EndOfStream` when the last writer
      has closed.
    * ``"r"`` with ``keep_open=True`` holds the FIFO open for writing as well, so the
      reader never sees end of stream while writers come and go (a log collector);
      it reads until it is closed or cancelled.

    Raises:
        ValueError: ``mode`` is not ``"r"`` or ``"w"``, ``keep_open`` is given with
            ``"w"``, or ``path`` exists but is not a FIFO (its kind is named).
        FileNotFoundError: nothing is at ``path``.
        OSError: as ``open(2)``, e.g. ``PermissionError``.
    """
    if mode not in ("r", "w"):
        raise ValueError(f"mode must be 'r' or 'w', not {mode!r}")
    if keep_open and mode != "r":
        raise ValueError("keep_open=True applies to the read end only (mode='r')")
    return _open_fifo(os.fspath(path), mode, keep_open)


@contextlib.asynccontextmanager
async def _open_fifo(path: str, mode: str, keep_open: bool) -> AsyncIterator[Stream]:
    stream = await _open_stream(path, mode, keep_open)
    try:
        yield stream
    finally:
        await stream.aclose()


async def _open_stream(path: str, mode: str, keep_open: bool) -> Stream:
    _check_fifo(path, os.stat(path).st_mode)
    if mode == "w":
        fd = await _open_write_end(path)
    else:
        access = os.O_RDWR if keep_open else os.O_RDONLY
        fd = os.open(path, access | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        # The path may have been replaced between the stat and the open.
        _check_fifo(path, os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    # from_fd owns the fd from here on (its arguments are valid) and closes it on error.
    return await Stream.from_fd(fd, mode)


async def _open_write_end(path: str) -> int:
    delay = _FIRST_RETRY
    while True:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: a FIFO with no reader yet
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, _LONGEST_RETRY)


def _check_fifo(path: str, mode: int) -> None:
    if not stat.S_ISFIFO(mode):
        raise ValueError(f"{path!r} is not a FIFO: it is {_describe(mode)}")


def _describe(mode: int) -> str:
    kinds = [
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
    ]
    for test, name in kinds:
        if test(mode):
            return name
    return "of an unknown kind"
