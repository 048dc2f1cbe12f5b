"""SysV shared memory: a segment attached to this process, read, written and viewed.

Nothing here waits, so nothing here is async; ``async with`` is offered for symmetry
with the rest of :mod:`aioipc.sysv` and does exactly what ``with`` does.

Two choices are worth writing down:

* The segment is found or created with ``shmget(2)`` called directly (through
  :mod:`ctypes`), and attached with :func:`sysv_ipc.attach`.  ``sysv_ipc.SharedMemory``'s
  own constructor cannot do what this API promises: with ``key=None`` it picks a random
  *public* key instead of ``IPC_PRIVATE``, with ``IPC_CREAT | IPC_EXCL`` it fills the new
  segment with spaces (perlipc's example expects NUL padding, and touching every page
  commits memory a large sparse segment would never use), and it reports every
  ``EINVAL`` as "the size is invalid" where the usual cause is an existing segment
  smaller than the size asked for.
* The memoryviews handed out by :attr:`SharedMemory.buffer` point straight into the
  mapping, and a view used after ``shmdt(2)`` reads unmapped memory: the process
  crashes.  sysv_ipc does nothing about that, so aioipc does.  The views are made over a
  :mod:`ctypes` array laid on the mapping; every view, slice, cast or NumPy array built on
  them keeps that array alive, and the segment is really detached only when the array
  is collected.  :meth:`SharedMemory.detach` releases the views it handed out (using one
  afterwards raises ``ValueError``) and lets the mapping go as soon as nothing still
  refers to it, so no view ever points at unmapped memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import operator
import os
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import sysv_ipc

from ._errors import SysVRemoved
from ._sysv_keys import check_key, describe

__all__ = ["SharedMemory"]

_libc = ctypes.CDLL(None, use_errno=True)
_shmget = _libc.shmget
_shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
_shmget.restype = ctypes.c_int


def check_mode(mode: int) -> int:
    mode = operator.index(mode)
    if not 0 <= mode <= 0o777:
        raise ValueError(f"mode must be permission bits between 0 and 0o777, not {mode:#o}")
    return mode


def kernel_limit(name: str) -> str:
    try:
        return Path(f"/proc/sys/kernel/{name}").read_text().strip()
    except OSError:
        return "unknown"


def describe_key(key: int) -> str:
    return "IPC_PRIVATE" if key == sysv_ipc.IPC_PRIVATE else f"{key & 0xFFFFFFFF:#010x}"


def _shmget_or_raise(key: int, size: int, flags: int, *, what: str) -> int:
    shmid = int(_shmget(key, size, flags))
    if shmid != -1:
        return shmid
    err = ctypes.get_errno()
    shown = describe_key(key)
    if err == errno.ENOENT:
        raise FileNotFoundError(
            err,
            f"no SysV shared memory segment with key {shown} exists "
            "(create=False opens an existing segment only)",
        )
    if err == errno.EEXIST:
        raise FileExistsError(
            err,
            f"a SysV shared memory segment with key {shown} already exists "
            "(exclusive=True insists on creating it)",
        )
    if err == errno.EACCES:
        raise PermissionError(
            err,
            f"no permission to {what} the SysV shared memory segment with key {shown} "
            f"with mode {flags & 0o777:#o}",
        )
    if err == errno.EINVAL:
        existing = int(_shmget(key, 0, 0)) if key != sysv_ipc.IPC_PRIVATE else -1
        if existing != -1:
            have = sysv_ipc.attach(existing, None, sysv_ipc.SHM_RDONLY)
            try:
                existing_size = have.size
            finally:
                have.detach()
            raise ValueError(
                f"the SysV shared memory segment with key {shown} has {existing_size} bytes, "
                f"fewer than size={size}: open it with size=0 (or at most {existing_size})"
            )
        raise ValueError(
            f"size={size} is outside the kernel's limits for a shared memory segment "
            f"(1 to {kernel_limit('shmmax')} bytes, see /proc/sys/kernel/shmmax)"
        )
    if err == errno.ENOSPC:
        raise OSError(
            err,
            "the kernel's limit on SysV shared memory has been reached "
            f"(/proc/sys/kernel/shmmni={kernel_limit('shmmni')} segments, "
            f"shmall={kernel_limit('shmall')} pages); "
            "`ipcs -m` lists the segments, `ipcrm` removes leftovers",
        )
    if err == errno.ENOMEM:
        raise OSError(
            err,
            f"cannot allocate a shared memory segment of {size} bytes: not enough memory, "
            f"or the kernel's total (/proc/sys/kernel/shmall={kernel_limit('shmall')} "
            "pages) would be exceeded",
        )
    raise OSError(err, f"shmget for key {shown} failed: {os.strerror(err)}")


def _detach_mapping(segment: Any) -> None:
    with contextlib.suppress(sysv_ipc.NotAttachedError):
        segment.detach()


class SharedMemory:
    """A SysV shared memory segment, attached to this process.

    ``key=None`` creates a new private segment (``IPC_PRIVATE``: other processes reach
    it through a fork or by its :attr:`id`); an int key (e.g. from ``key_from_path``)
    names a segment any process can open.  With ``create=True`` (the default) a missing
    segment is created with ``size`` bytes, filled with NUL bytes, and permissions
    ``mode``; an existing one is opened as it is.  ``exclusive=True`` insists on
    creating it; ``create=False`` insists that it exists.  ``size=0`` opens an existing
    segment whatever its size; :attr:`size` is always the kernel's figure.  A ``mode``
    without the owner's write bit (``0o400``) attaches the segment read-only.

    ``with`` and ``async with`` detach the segment when the block ends, and remove it
    from the kernel if this object created it; ``remove_on_exit=True`` or ``False``
    overrides that.  A segment that is never removed outlives every process: ``ipcs -m``
    lists leftovers, ``ipcrm -m ID`` removes one.

    There is no locking: two processes writing the same bytes at once see a mix.
    Coordinate with :class:`aioipc.sysv.Semaphore`.

    Raises:
        TypeError: ``key`` is not an int or ``None``, or ``size``/``mode`` is not an int.
        ValueError: ``key`` does not fit a ``key_t``; ``mode`` is not permission bits;
            ``size`` is negative, zero where a segment must be created, beyond the
            kernel's ``shmmax``, or larger than the existing segment;
            ``create=False`` with ``key=None``; ``exclusive=True`` with
            ``create=False``.
        FileNotFoundError: ``create=False`` and no segment has ``key``.
        FileExistsError: ``exclusive=True`` and a segment with ``key`` exists.
        PermissionError: the segment's permissions do not grant ``mode``.
        OSError: the kernel's limits on segments or memory are reached (``ENOSPC``,
            ``ENOMEM``: the message names the limit).
    """

    def __init__(
        self,
        key: int | None = None,
        size: int = 0,
        *,
        mode: int = 0o600,
        create: bool = True,
        exclusive: bool = False,
        remove_on_exit: bool | None = None,
    ) -> None:
        kernel_key = check_key(key)
        size = operator.index(size)
        mode = check_mode(mode)
        if not 0 <= size < 2**63:
            raise ValueError(f"size must be at least 0 and below 2**63, not {size}")
        if not create and key is None:
            raise ValueError(
                "create=False needs a key: a private (key=None) segment can only be created"
            )
        if exclusive and not create:
            raise ValueError("exclusive=True asks to create the segment; it needs create=True")
        self._key = kernel_key
        self._remove_on_exit = remove_on_exit
        self._removed = False
        self._id, self._created = self._get(kernel_key, size, mode, create, exclusive)
        flags = 0 if mode & 0o200 else sysv_ipc.SHM_RDONLY
        try:
            try:
                segment = sysv_ipc.attach(self._id, None, flags)
            except sysv_ipc.PermissionsError as exc:
                raise PermissionError(
                    errno.EACCES, f"no permission to attach {self._describe()}: {exc}"
                ) from exc
        except BaseException:
            self._forget_created()
            raise
        self._size = int(segment.size)
        array = (ctypes.c_ubyte * self._size).from_address(segment.address)
        # The mapping lives exactly as long as the array: every view keeps it alive.
        finalizer = weakref.finalize(array, _detach_mapping, segment)
        finalizer.atexit = False  # at exit the kernel unmaps it; views may still be used
        root = memoryview(array).cast("B")
        self._root: memoryview | None = root if flags == 0 else root.toreadonly()
        self._views: dict[int, weakref.ref[memoryview]] = {}

    @staticmethod
    def _get(key: int, size: int, mode: int, create: bool, exclusive: bool) -> tuple[int, bool]:
        """Find or create the segment; return its id and whether this call created it."""
        if key == sysv_ipc.IPC_PRIVATE:
            if size == 0:
                raise ValueError("size must be given (> 0) to create a private segment")
            return _shmget_or_raise(key, size, mode | sysv_ipc.IPC_CREAT, what="create"), True
        if create and not exclusive:
            # Open first, so that we know whether we created it (and size 0 can open).
            while True:
                try:
                    return _shmget_or_raise(key, size, mode, what="open"), False
                except FileNotFoundError:
                    if size == 0:
                        raise ValueError(
                            f"no shared memory segment with key {describe_key(key)} exists, "
                            "and size=0 cannot create one: give its size"
                        ) from None
                try:
                    flags = mode | sysv_ipc.IPC_CREAT | sysv_ipc.IPC_EXCL
                    return _shmget_or_raise(key, size, flags, what="create"), True
                except FileExistsError:
                    continue  # another process created it in between: open that one
        if create:
            if size == 0:
                raise ValueError("size must be given (> 0) to create a segment (exclusive=True)")
            flags = mode | sysv_ipc.IPC_CREAT | sysv_ipc.IPC_EXCL
            return _shmget_or_raise(key, size, flags, what="create"), True
        return _shmget_or_raise(key, size, mode, what="open"), False

    def _forget_created(self) -> None:
        if self._created:
            with contextlib.suppress(sysv_ipc.ExistentialError):
                sysv_ipc.remove_shared_memory(self._id)

    def _describe(self) -> str:
        return describe("shared memory segment", self._key, self._id)

    def _view(self) -> memoryview:
        if self._root is None:
            raise ValueError(
                f"{self._describe()} is detached from this process: "
                "read, write and buffer work only while it is attached"
            )
        return self._root

    def _span(self, offset: int, length: int | None, verb: str) -> tuple[int, int]:
        offset = operator.index(offset)
        if offset < 0:
            raise ValueError(f"offset must be at least 0, not {offset}")
        if offset > self._size:
            raise ValueError(f"offset {offset} is beyond the end of the {self._size}-byte segment")
        if length is None:
            return offset, self._size
        if length < 0:
            raise ValueError(f"n must be at least 0, not {length}")
        if offset + length > self._size:
            raise ValueError(
                f"cannot {verb} {length} bytes at offset {offset}: the segment has "
                f"{self._size} bytes, so at most {self._size - offset} fit there"
            )
        return offset, offset + length

    @property
    def key(self) -> int:
        """The key the segment was opened with (``0``, ``IPC_PRIVATE``, for a private one)."""
        return self._key

    @property
    def id(self) -> int:
        """The kernel's identifier for the segment (the ``shmid`` column of ``ipcs -m``)."""
        return self._id

    @property
    def size(self) -> int:
        """The segment's size in bytes, as the kernel reports it."""
        return self._size

    @property
    def attached(self) -> bool:
        """Whether the segment is still attached to this process (before :meth:`detach`)."""
        return self._root is not None

    @property
    def buffer(self) -> memoryview:
        """A writable memoryview of the whole segment, for zero-copy access.

        Each access returns a new view (format ``"B"``, length :attr:`size`); writes
        through it are seen by every process that has the segment attached.  It is
        read-only when the segment was attached read-only.

        The view is valid until the segment is detached (:meth:`detach`, or the end of
        a ``with`` block): detaching releases it, after which using it raises
        ``ValueError``.  Views derived from it (slices, casts, NumPy arrays) cannot be
        released by aioipc; they stay usable, and keep the segment attached to this
        process until they are gone, so no view ever points at unmapped memory.

        Raises:
            ValueError: the segment is detached.
        """
        view = self._view()[:]
        ident = id(view)
        views = self._views

        def forget(_: object, ident: int = ident) -> None:
            views.pop(ident, None)

        views[ident] = weakref.ref(view, forget)
        return view

    def read(self, n: int | None = None, offset: int = 0) -> bytes:
        """Return ``n`` bytes of the segment starting at ``offset`` (to its end if ``n`` is None).

        Bytes never written are NUL (``b"\\0"``), as in Perl's ``shmread``.

        Raises:
            ValueError: ``offset`` or ``n`` is negative, or the range goes beyond the
                end of the segment (the message gives the segment's size); the segment
                is detached.
            TypeError: ``n`` or ``offset`` is not an int.
        """
        view = self._view()
        start, end = self._span(offset, None if n is None else operator.index(n), "read")
        return bytes(view[start:end])

    def write(self, data: bytes | bytearray | memoryview, offset: int = 0) -> None:
        """Copy ``data`` into the segment starting at ``offset``.

        Unlike Perl's ``shmwrite``, the rest of the segment is left as it was (no NUL
        padding to a length).

        Raises:
            TypeError: ``data`` is not bytes-like (a ``str`` must be encoded first), or
                ``offset`` is not an int.
            ValueError: ``offset`` is negative, or ``data`` does not fit between
                ``offset`` and the end of the segment; the segment is detached or was
                attached read-only.
        """
        if isinstance(data, str):  # type: ignore[unreachable]  # callers without mypy
            raise TypeError("data must be bytes-like, not str: encode it first")
        view = self._view()
        if view.readonly:
            raise ValueError(f"{self._describe()} is attached read-only (mode without 0o200)")
        source = memoryview(data)
        if source.format != "B" or source.ndim != 1:
            source = source.cast("B")
        start, end = self._span(offset, source.nbytes, "write")
        view[start:end] = source

    def detach(self) -> None:
        """Detach the segment from this process; the segment itself stays in the kernel.

        The memoryviews :attr:`buffer` returned are released.  Calling ``detach`` again
        does nothing.
        """
        root, self._root = self._root, None
        if root is None:
            return
        for ref in list(self._views.values()):
            view = ref()
            if view is not None:
                # A view something else exports (a NumPy array) cannot be released;
                # it keeps the mapping alive instead.
                with contextlib.suppress(BufferError):
                    view.release()
        self._views.clear()
        root.release()

    def remove(self) -> None:
        """Remove the segment from the kernel (``IPC_RMID``).

        Processes that have it attached keep using it; it disappears when the last one
        detaches, and no process can open it by key any more.  Removing a segment this
        object already removed does nothing.

        Raises:
            aioipc.sysv.SysVRemoved: the segment was already removed by someone else.
            PermissionError: this process may not remove it (not its owner or creator).
        """
        if self._removed:
            return
        try:
            sysv_ipc.remove_shared_memory(self._id)
        except sysv_ipc.ExistentialError as exc:
            raise SysVRemoved(self._describe(), while_waiting=False) from exc
        except sysv_ipc.PermissionsError as exc:
            raise PermissionError(
                errno.EPERM, f"no permission to remove {self._describe()}"
            ) from exc
        self._removed = True

    def _close(self) -> None:
        remove = self._created if self._remove_on_exit is None else self._remove_on_exit
        try:
            if remove:
                self.remove()
        finally:
            self.detach()

    def __enter__(self) -> Self:
        self._view()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()

    def __repr__(self) -> str:
        state = "attached" if self.attached else "detached"
        return (
            f"<SharedMemory key={describe_key(self._key)} id={self._id} size={self._size} {state}>"
        )
