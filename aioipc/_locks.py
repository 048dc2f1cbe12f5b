"""Advisory file locks (``flock``), awaited without blocking the loop.

perlipc's ``alarm`` around ``flock(FH, 2)`` interrupts a blocking system call with a
signal.  aioipc never makes that call: ``lock_file`` tries ``flock(fd, LOCK_EX |
LOCK_NB)`` (or ``LOCK_SH``) at once and, while another open file description holds a
conflicting lock, retries on a short timer (1 ms, doubling to 10 ms) — the same way
``open_fifo`` waits for a reader.  The wait is a plain ``asyncio.sleep``: no thread is
parked in ``flock()``, so a cancellation or a timeout ends it at once and leaves
nothing behind, and the lock is taken within about 10 ms of its release.

The price of polling is fairness: a process blocked in ``flock()`` is woken by the
kernel the moment the lock is free, while a poller only sees it free on its next try,
so against busy blocking lockers a poller can wait long.  ``timeout`` bounds that.

How a path is opened (the same choices as util-linux ``flock(1)``):

* ``O_RDONLY | O_CREAT | O_CLOEXEC | O_NOCTTY``, mode ``0o600`` by default.  Linux's
  ``flock`` ignores the access mode, so read access is enough for either kind of lock
  and a read-only file can be locked; a new file is private unless asked otherwise.
* A directory is opened ``O_RDONLY`` (Linux refuses ``O_CREAT`` on one) and locked as
  it is: ``flock`` works on directories, and ``flock(1)`` users lock them.
* NFS emulates ``flock`` with ``fcntl`` byte-range locks, where an exclusive lock needs
  a descriptor open for writing: ``EBADF`` makes us reopen ``O_RDWR`` and try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import math
import os
from collections.abc import AsyncIterator
from typing import Protocol, Union

from ._errors import IPCTimeoutError

__all__ = ["lock_file"]

#: First and longest pause between two attempts to take a lock that is held.
_FIRST_RETRY = 0.001
_LONGEST_RETRY = 0.01


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


LockTarget = Union[str, "os.PathLike[str]", int, _HasFileno]


def lock_file(
    path_or_fd: LockTarget,
    *,
    exclusive: bool = True,
    timeout: float | None = None,
    mode: int = 0o600,
) -> contextlib.AbstractAsyncContextManager[int]:
    """Hold a ``flock`` advisory lock for the block: ``async with lock_file(path):``.

    ``exclusive=True`` takes ``LOCK_EX`` (one holder); ``exclusive=False`` takes
    ``LOCK_SH`` (any number of shared holders, no exclusive one).  The block gets the
    file descriptor the lock is held through; leaving the block, by any way (an error,
    a cancellation), releases the lock with ``LOCK_UN``.

    * A path (``str`` or path-like) is opened — created with permissions ``mode``, less
      the umask, if it is missing; a directory is locked as it is — and closed when the
      block is left.  An existing file's mode is never changed.
    * An fd (``int``) or an object with ``fileno()`` is locked as it is and left open;
      leaving the block unlocks it, including a lock that fd held before.

    Waiting never blocks the loop and holds no thread: a non-blocking ``flock`` is
    retried every 1 to 10 ms, so cancellation is immediate and leaves no lock and no fd.
    Locks belong to the open file description: a second ``lock_file`` of the same path
    in this process opens it again and so waits for the first (tasks of one process
    exclude each other), while a forked child shares the lock of the parent's fd.

    Args:
        path_or_fd: the file to lock: a path, an fd, or an object with ``fileno()``.
        exclusive: ``True`` for an exclusive lock, ``False`` for a shared one.
        timeout: seconds to wait at most; ``None`` waits for ever and ``0`` tries once.
        mode: permissions of a file created by a path form (ignored otherwise).

    Raises:
        aioipc.IPCTimeoutError: the lock was still held by others after ``timeout``
            seconds (a ``TimeoutError``); the message names the file and the lock kind.
        TypeError: ``path_or_fd`` is not a path, an int or an object with ``fileno()``,
            or ``exclusive`` is not a bool.
        ValueError: a negative fd, an fd that is not open, a ``timeout`` that is not a
            number of seconds >= 0, or a ``mode`` outside ``0o0..0o7777``.
        FileNotFoundError: the directory that should hold the lock file does not exist
            (the message names it).
        OSError: as ``open(2)`` or ``flock(2)``, e.g. ``PermissionError``.
    """
    if not isinstance(exclusive, bool):
        raise TypeError(f"exclusive must be True or False, not {exclusive!r}")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise ValueError(f"timeout must be None or a number of seconds >= 0, not {timeout!r}")
        if math.isnan(timeout) or timeout < 0:
            raise ValueError(f"timeout must be None or a number of seconds >= 0, not {timeout!r}")
    if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o7777:
        raise ValueError(f"mode must be permission bits between 0o0 and 0o7777, not {mode!r}")
    if isinstance(path_or_fd, bool):
        raise TypeError(f"path_or_fd must be a path, an fd or a file object, not {path_or_fd!r}")
    if isinstance(path_or_fd, str | os.PathLike):
        path = os.fsdecode(os.fspath(path_or_fd))
        if not path:
            raise ValueError("path_or_fd is an empty path")
        return _lock_path(path, exclusive, timeout, mode)
    if isinstance(path_or_fd, int) or hasattr(path_or_fd, "fileno"):
        fd = path_or_fd if isinstance(path_or_fd, int) else path_or_fd.fileno()
        if isinstance(fd, bool) or not isinstance(fd, int):
            raise TypeError(f"{path_or_fd!r}.fileno() returned {fd!r}, not an int")
        _check_fd(fd)
        return _lock_fd(fd, exclusive, timeout)
    raise TypeError(
        f"path_or_fd must be a path, an fd or a file object, not {type(path_or_fd).__name__}"
    )


@contextlib.asynccontextmanager
async def _lock_path(
    path: str, exclusive: bool, timeout: float | None, mode: int
) -> AsyncIterator[int]:
    fd = _open(path, mode)
    try:
        fd = await _acquire(fd, exclusive, timeout, repr(path), reopen=path)
        try:
            yield fd
        finally:
            # Closing alone would keep the lock if a forked child shares the
            # description; the block's end is the promised release.
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.asynccontextmanager
async def _lock_fd(fd: int, exclusive: bool, timeout: float | None) -> AsyncIterator[int]:
    await _acquire(fd, exclusive, timeout, _describe_fd(fd), reopen=None)
    try:
        yield fd
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _open(path: str, mode: int) -> int:
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY
    try:
        return os.open(path, flags | os.O_CREAT, mode)
    except IsADirectoryError:
        return os.open(path, flags)
    except FileNotFoundError:
        parent = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(parent):
            raise  # e.g. a symbolic link into a missing directory: the OS message will do
        raise FileNotFoundError(
            errno.ENOENT,
            f"cannot create the lock file {path!r}: its directory {parent!r} does not exist",
        ) from None


async def _acquire(
    fd: int, exclusive: bool, timeout: float | None, name: str, *, reopen: str | None
) -> int:
    """Lock ``fd``, polling; return the fd that holds the lock (``reopen``'s on NFS)."""
    operation = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    delay = _FIRST_RETRY
    while True:
        try:
            fcntl.flock(fd, operation)
            return fd
        except BlockingIOError:
            pass
        except InterruptedError:
            continue
        except OSError as exc:
            if exc.errno != errno.EBADF or reopen is None or not exclusive:
                raise
            # NFS: an exclusive lock needs a descriptor open for writing.
            new_fd = os.open(reopen, os.O_RDWR | os.O_CLOEXEC | os.O_NOCTTY)
            os.dup2(new_fd, fd, inheritable=False)  # keep the caller's fd number
            os.close(new_fd)
            reopen = None
            continue
        if deadline is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                kind = "an exclusive" if exclusive else "a shared"
                raise IPCTimeoutError(
                    f"timed out after {timeout:g} s waiting for {kind} lock on {name}: "
                    "another open file holds a conflicting lock"
                )
            await asyncio.sleep(min(delay, remaining))
        else:
            await asyncio.sleep(delay)
        delay = min(delay * 2, _LONGEST_RETRY)


def _check_fd(fd: int) -> None:
    if fd < 0:
        raise ValueError(f"path_or_fd must be an fd >= 0, not {fd}")
    try:
        os.fstat(fd)
    except OSError as exc:
        if exc.errno == errno.EBADF:
            raise ValueError(f"path_or_fd: fd {fd} is not open") from None
        raise


def _describe_fd(fd: int) -> str:
    try:
        return f"fd {fd} ({os.readlink(f'/proc/self/fd/{fd}')})"
    except OSError:
        return f"fd {fd}"
