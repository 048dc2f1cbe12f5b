"""SysV message queues: typed messages sent and received without blocking the loop.

A message queue has no file descriptor, so there is nothing for the loop to watch.
Every operation goes through :func:`aioipc._sysv_poller.wait_for`: it first tries
once with ``IPC_NOWAIT`` in the loop thread, which is all it takes when the queue has
room (``send``) or a matching message (``receive``) and no waiter of this process is
already queued for the same thing.  Only when it would block does it wait: the poller
repeats the ``IPC_NOWAIT`` attempt from aioipc's own poller threads, so no thread
ever sleeps inside ``msgsnd``/``msgrcv`` and a wait can be cancelled or time out at
any moment.  Senders wait in one FIFO per queue; receivers in one FIFO per queue and
``type``.

A poller can lose a race the kernel would have decided differently: a process blocked
inside ``msgrcv`` is handed a message the moment it is sent, while a poller only sees
the message at its next attempt.  Waiting aioipc receivers therefore get messages only
when no process is blocked in the kernel for them.  Among this process's receivers,
those asking for the same ``type`` are served first come, first served; receivers
asking for different types (``0`` and ``3``, say) race for a message both accept.

Lost messages are the one thing a cancellable receive must never cause.  A receive
cancelled while its attempt runs in a thread may still take a message; the poller hands
that message to the undo hook here, which sends it back to the same queue with the same
type, at once and without blocking (``IPC_NOWAIT``).  It goes to the *end* of the
queue, so it may now come after messages of its type that were sent after it.  If the
queue is full at that moment, the first poller thread retries the send until there is
room (no thread ever blocks in ``msgsnd``, and no thread is started per message), and
a process that exits meanwhile waits at exit until the message is back (or the queue is
removed): see :mod:`aioipc._sysv_poller`.
"""

from __future__ import annotations

import contextlib
import errno
import operator
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import sysv_ipc

from ._errors import IPCTimeoutError
from ._sysv_keys import check_key, describe
from ._sysv_poller import check_timeout, translate_error, wait_for
from ._sysv_shm import check_mode, describe_key, kernel_limit

__all__ = ["MessageQueue", "QueueStats"]

#: msgsnd/msgrcv types pass through sysv_ipc as a C int.
_TYPE_MAX = 2**31 - 1


def _msgmax() -> int:
    try:
        return int(kernel_limit("msgmax"))
    except ValueError:
        return 8192  # the kernel's default


@dataclass(frozen=True)
class QueueStats:
    """A snapshot of a message queue's kernel record (``msgctl(IPC_STAT)``).

    ``messages`` is the number of messages waiting; ``max_bytes`` the most bytes the
    queue holds before senders wait (``msg_qbytes``); ``last_send_pid`` and
    ``last_receive_pid`` the processes that last sent and received (0 if none has);
    ``last_send_time`` and ``last_receive_time`` when, in seconds since the epoch
    (0 if never).
    """

    messages: int
    max_bytes: int
    last_send_pid: int
    last_receive_pid: int
    last_send_time: float
    last_receive_time: float


class MessageQueue:
    """A SysV message queue: ``await send(message, type=…)``, ``await receive(type=…)``.

    ``key=None`` creates a new private queue (``IPC_PRIVATE``: reachable through a fork
    or by :attr:`id`); an int key (e.g. from ``key_from_path``) names a queue any process
    can open.  With ``create=True`` (the default) a missing queue is created with
    permissions ``mode``; an existing one is opened.  ``exclusive=True`` insists on
    creating it; ``create=False`` insists that it exists.

    ``max_size`` is the largest message this object sends or receives, in bytes; it
    defaults to the kernel's limit for any message, ``/proc/sys/kernel/msgmax`` (8192
    unless raised).  A message waiting in the queue that is bigger than ``max_size`` is
    left there and reported (see :meth:`receive`).

    ``async with`` (or ``with``) removes the queue at the end of the block if this object
    created it; ``remove_on_exit=True`` or ``False`` overrides that.  A queue that is
    never removed outlives every process: ``ipcs -q`` lists leftovers, ``ipcrm -q ID``
    removes one.

    Raises:
        TypeError: ``key`` is not an int or ``None``, or ``max_size``/``mode`` is not
            an int.
        ValueError: ``key`` does not fit a ``key_t``; ``mode`` is not permission bits;
            ``max_size`` is not between 1 and the kernel's ``msgmax``;
            ``create=False`` with ``key=None``; ``exclusive=True`` with
            ``create=False``.
        FileNotFoundError: ``create=False`` and no queue has ``key``.
        FileExistsError: ``exclusive=True`` and a queue with ``key`` exists.
        PermissionError: the queue's permissions do not grant ``mode``.
        OSError: the kernel's limit on queues (``msgmni``) is reached.
    """

    def __init__(
        self,
        key: int | None = None,
        *,
        max_size: int | None = None,
        mode: int = 0o600,
        create: bool = True,
        exclusive: bool = False,
        remove_on_exit: bool | None = None,
    ) -> None:
        kernel_key = check_key(key)
        mode = check_mode(mode)
        msgmax = _msgmax()
        if max_size is None:
            max_size = msgmax
        max_size = operator.index(max_size)
        if not 1 <= max_size <= msgmax:
            raise ValueError(
                f"max_size must be between 1 and the kernel's msgmax ({msgmax} bytes, "
                f"/proc/sys/kernel/msgmax), not {max_size}"
            )
        if not create and key is None:
            raise ValueError(
                "create=False needs a key: a private (key=None) queue can only be created"
            )
        if exclusive and not create:
            raise ValueError("exclusive=True asks to create the queue; it needs create=True")
        self._key = kernel_key
        self._max_size = max_size
        self._remove_on_exit = remove_on_exit
        self._removed = False
        self._queue, self._created = self._get(kernel_key, mode, create, exclusive)
        self._id = int(self._queue.id)

    def _get(
        self, key: int, mode: int, create: bool, exclusive: bool
    ) -> tuple[sysv_ipc.MessageQueue, bool]:
        if key == sysv_ipc.IPC_PRIVATE:
            return self._msgget(key, sysv_ipc.IPC_CREAT, mode), True
        if create and not exclusive:
            # Open first, so that we know whether we created it.
            while True:
                try:
                    return self._msgget(key, 0, mode), False
                except FileNotFoundError:
                    pass
                try:
                    return self._msgget(key, sysv_ipc.IPC_CREX, mode), True
                except FileExistsError:
                    continue  # another process created it in between: open that one
        if create:
            return self._msgget(key, sysv_ipc.IPC_CREX, mode), True
        return self._msgget(key, 0, mode), False

    def _msgget(self, key: int, flags: int, mode: int) -> sysv_ipc.MessageQueue:
        shown = describe_key(key)
        try:
            return sysv_ipc.MessageQueue(key, flags, mode, self._max_size)
        except sysv_ipc.ExistentialError as exc:
            if flags & sysv_ipc.IPC_EXCL:
                raise FileExistsError(
                    errno.EEXIST,
                    f"a SysV message queue with key {shown} already exists "
                    "(exclusive=True insists on creating it)",
                ) from exc
            raise FileNotFoundError(
                errno.ENOENT,
                f"no SysV message queue with key {shown} exists "
                "(create=False opens an existing queue only)",
            ) from exc
        except sysv_ipc.PermissionsError as exc:
            raise PermissionError(
                errno.EACCES,
                f"no permission to open the SysV message queue with key {shown} "
                f"with mode {mode:#o}",
            ) from exc
        except OSError as exc:
            if "system limit" in str(exc) or exc.errno == errno.ENOSPC:
                raise OSError(
                    errno.ENOSPC,
                    "the kernel's limit on SysV message queues has been reached "
                    f"(/proc/sys/kernel/msgmni={kernel_limit('msgmni')}); "
                    "`ipcs -q` lists the queues, `ipcrm` removes leftovers",
                ) from exc
            raise

    def _describe(self) -> str:
        return describe("message queue", self._key, self._id)

    # The attempts, each made once with IPC_NOWAIT by aioipc._sysv_poller.wait_for:
    # sysv_ipc.BusyError means "would block", ExistentialError "removed" (the poller
    # turns it into SysVRemoved); anything else reaches the caller.

    def _try_send(self, message: bytes, msg_type: int) -> None:
        try:
            self._queue.send(message, False, msg_type)
        except sysv_ipc.BusyError:
            # The kernel checks only msgmax up front: a message larger than the queue's
            # byte limit is "full" forever, so it would wait forever.  Say so instead.
            max_bytes = int(self._queue.max_size)
            if len(message) > max_bytes:
                raise ValueError(
                    f"a message of {len(message)} bytes can never fit in "
                    f"{self._describe()}: it holds at most {max_bytes} bytes (msg_qbytes)"
                ) from None
            raise
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            # EINVAL is also what msgsnd says once the queue has been removed: then
            # this raises sysv_ipc.ExistentialError, which the poller reports.
            self._queue.current_messages  # noqa: B018
            raise ValueError(
                f"the kernel refused a message of {len(message)} bytes for "
                f"{self._describe()} (EINVAL): it is larger than msgmax, now "
                f"{kernel_limit('msgmax')} bytes (/proc/sys/kernel/msgmax)"
            ) from exc

    def _try_receive(self, msg_type: int) -> tuple[bytes, int]:
        try:
            message, got_type = self._queue.receive(False, msg_type)
        except OSError as exc:
            if exc.errno != errno.E2BIG:
                raise
            raise ValueError(
                f"the next message of {_describe_type(msg_type)} in {self._describe()} "
                f"is larger than max_size={self._max_size}; it was left in the queue "
                "(open the queue with a larger max_size to receive it)"
            ) from exc
        return bytes(message), int(got_type)

    def _give_back(self, received: tuple[bytes, int]) -> None:
        """Put back a message a poll took after its receiver was cancelled.

        One non-blocking ``msgsnd``: ``sysv_ipc.BusyError`` (the queue is full) tells
        the poller to retry later.  A queue removed meanwhile took every message in it
        with it, so there is nothing left to do.
        """
        message, msg_type = received
        try:
            self._queue.send(message, False, msg_type)
        except sysv_ipc.BusyError:
            try:
                max_bytes = int(self._queue.max_size)
            except sysv_ipc.ExistentialError:
                return  # removed meanwhile
            if len(message) > max_bytes:
                raise ValueError(
                    f"a message of {len(message)} bytes taken by a cancelled receive can "
                    f"no longer go back to {self._describe()}: its byte limit (msg_qbytes) "
                    "was lowered below it"
                ) from None
            raise
        except sysv_ipc.ExistentialError:
            pass  # the queue is gone, and every message that was in it
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            # EINVAL: removed (checking raises ExistentialError) or really invalid.
            with contextlib.suppress(sysv_ipc.ExistentialError):
                self._queue.current_messages  # noqa: B018
                raise

    @property
    def key(self) -> int:
        """The key the queue was opened with (``0``, ``IPC_PRIVATE``, for a private one)."""
        return self._key

    @property
    def id(self) -> int:
        """The kernel's identifier for the queue (the ``msqid`` column of ``ipcs -q``)."""
        return self._id

    @property
    def max_size(self) -> int:
        """The largest message, in bytes, this object sends or receives."""
        return self._max_size

    @property
    def stats(self) -> QueueStats:
        """A :class:`QueueStats` snapshot of the queue, read from the kernel now.

        Raises:
            SysVRemoved: the queue was removed.
        """
        queue = self._queue
        try:
            return QueueStats(
                messages=int(queue.current_messages),
                max_bytes=int(queue.max_size),
                last_send_pid=int(queue.last_send_pid),
                last_receive_pid=int(queue.last_receive_pid),
                last_send_time=float(queue.last_send_time),
                last_receive_time=float(queue.last_receive_time),
            )
        except sysv_ipc.Error as exc:
            raise translate_error(exc, self._describe(), while_waiting=False) from exc

    async def send(
        self,
        message: bytes | bytearray | memoryview,
        type: int = 1,
        timeout: float | None = None,
    ) -> None:
        """Send ``message`` with a positive ``type``, waiting while the queue is full.

        The queue is full when its bytes (``stats.max_bytes``) or the kernel's count of
        messages would be exceeded; the send then waits, without blocking the loop,
        until a receiver makes room.  ``timeout`` bounds that wait in seconds
        (``0``: only if there is room now).  A send cancelled while it waits sends
        nothing, unless it was cancelled at the very moment its attempt succeeded: the
        message is then sent (there is no taking it back from a shared queue).

        Raises:
            TypeError: ``message`` is not bytes-like (``str`` must be encoded).
            ValueError: ``type`` is not between 1 and 2**31 - 1; ``message`` is larger
                than :attr:`max_size` or than the queue can ever hold.
            aioipc.IPCTimeoutError: still full after ``timeout`` seconds (a
                ``TimeoutError``).
            aioipc.sysv.SysVRemoved: the queue was removed, before or during the wait.
        """
        if isinstance(message, str):  # type: ignore[unreachable]  # callers without mypy
            raise TypeError("message must be bytes-like, not str: encode it first")
        data = bytes(message)
        msg_type = _check_send_type(type)
        timeout = check_timeout(timeout)
        if len(data) > self._max_size:
            raise ValueError(
                f"message of {len(data)} bytes is larger than max_size={self._max_size}"
                + (" (the kernel's msgmax)" if self._max_size == _msgmax() else "")
            )
        try:
            await wait_for(
                lambda: self._try_send(data, msg_type),
                queue=("msg", self._id, "send"),
                describe=self._describe(),
                undo=None,
                timeout=timeout,
            )
        except IPCTimeoutError:
            raise IPCTimeoutError(
                f"{self._describe()} was still full after {timeout:g} s"
            ) from None

    async def receive(
        self,
        type: int = 0,
        timeout: float | None = None,
    ) -> tuple[bytes, int]:
        """Receive a message; return ``(message, type)``.

        ``type`` chooses which message, as ``msgrcv`` does: ``0`` the first in the
        queue; a positive ``n`` the first of type ``n``; a negative ``-n`` the first of
        the lowest type that is at most ``n``.  With none there, the receive waits,
        without blocking the loop; ``timeout`` bounds the wait in seconds (``0``: only
        a message that is there now).

        A receive cancelled while it waits takes no message: one its poll took after
        the cancellation is sent back to the queue with its type, at the end of the
        queue.

        Raises:
            ValueError: ``type`` is outside -(2**31 - 1) .. 2**31 - 1; the first
                matching message is larger than :attr:`max_size` (it stays queued).
            aioipc.IPCTimeoutError: no matching message within ``timeout`` seconds (a
                ``TimeoutError``).
            aioipc.sysv.SysVRemoved: the queue was removed, before or during the wait.
        """
        msg_type = _check_receive_type(type)
        timeout = check_timeout(timeout)
        try:
            return await wait_for(
                lambda: self._try_receive(msg_type),
                queue=("msg", self._id, "receive", msg_type),
                describe=self._describe(),
                undo=self._give_back,
                timeout=timeout,
            )
        except IPCTimeoutError:
            raise IPCTimeoutError(
                f"no message of {_describe_type(msg_type)} arrived in {self._describe()} "
                f"within {timeout:g} s"
            ) from None

    def remove(self) -> None:
        """Remove the queue from the kernel (``IPC_RMID``), with every message in it.

        Processes waiting on it are woken: aioipc's waiters raise
        :class:`aioipc.sysv.SysVRemoved`.  Removing a queue this object already removed
        does nothing.

        Raises:
            aioipc.sysv.SysVRemoved: someone else removed it first.
            PermissionError: this process may not remove it (not its owner or creator).
        """
        if self._removed:
            return
        try:
            self._queue.remove()
        except sysv_ipc.Error as exc:
            raise translate_error(exc, self._describe(), while_waiting=False) from exc
        self._removed = True

    def _close(self) -> None:
        if self._created if self._remove_on_exit is None else self._remove_on_exit:
            self.remove()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()

    def __repr__(self) -> str:
        return f"<MessageQueue key={describe_key(self._key)} id={self._id}>"


def _check_send_type(msg_type: int) -> int:
    msg_type = operator.index(msg_type)
    if not 1 <= msg_type <= _TYPE_MAX:
        raise ValueError(f"a message's type must be between 1 and 2**31 - 1, not {msg_type}")
    return msg_type


def _check_receive_type(msg_type: int) -> int:
    msg_type = operator.index(msg_type)
    if not -_TYPE_MAX <= msg_type <= _TYPE_MAX:
        raise ValueError(
            f"type must be between -(2**31 - 1) and 2**31 - 1 (0: any), not {msg_type}"
        )
    return msg_type


def _describe_type(msg_type: int) -> str:
    if msg_type == 0:
        return "any type"
    if msg_type > 0:
        return f"type {msg_type}"
    return f"type at most {-msg_type}"
