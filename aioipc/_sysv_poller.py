"""Waiting on SysV semaphores and message queues without blocking the event loop.

SysV IPC objects have no file descriptor, so the loop cannot watch them.  A blocking
``semop``/``msgrcv`` parked in a thread cannot be cancelled, and the PyPI wheel of
``sysv_ipc`` has no ``semtimedop`` at all (``SEMAPHORE_TIMEOUT_SUPPORTED`` is False:
``acquire(timeout=…)`` and ``Z()`` block forever), while ``MessageQueue.receive`` has
no timeout in any build.  What works in every build is the non-blocking attempt
(``IPC_NOWAIT``, ``block=False`` in sysv_ipc).  So a wait here is a sequence of
non-blocking attempts made by a poller thread until one succeeds.

How the polling is organised:

* **aioipc's own threads, few of them.**  Never the loop's default executor (six
  threads on a small machine: waits parked there deadlock the seventh waiter and hang
  ``asyncio.run`` at shutdown).  :data:`POLLER_THREADS` daemon threads serve every
  waiter of every loop in the process; each waiter's queue is pinned to one of them.
  A thread with nothing to do for :data:`IDLE_EXIT` seconds ends; the next waiter
  starts it again.  Daemon threads never hold up interpreter exit, and nothing is
  registered with any loop between wake-ups, so nothing keeps a loop alive.
* **FIFO queues.**  Waiters that want the same thing (``queue``: e.g. "a unit of
  semaphore id 7", "a type-3 message from queue id 9") wait in one FIFO; only the
  head is attempted.  When it succeeds the next head is tried at once.  A thousand
  waiters on one semaphore cost one attempt per poll, not a thousand.
* **Back-off.**  A queue that just made progress, or just got a waiter, is polled
  again after :data:`FIRST_DELAY`; each fruitless attempt doubles the delay up to
  :data:`MAX_DELAY` (or ``MAX_DELAY_PER_QUEUE`` times the thread's queue count, whichever is
  larger, so that waiting on thousands of *different* objects stays cheap).  A wake-up
  therefore reaches an idle waiter within ``MAX_DELAY`` plus a thread switch.
* **Cancellation loses nothing.**  Each waiter has a lock and a state.  A poller
  thread holds the waiter's lock for the whole of its (non-blocking) attempt and never
  starts one for a waiter that is no longer pending; the loop thread takes the same lock
  to mark a waiter cancelled.  So exactly one side sees a result that the other side
  can no longer use, and that side hands it to the waiter's ``undo`` hook (a semaphore
  unit is released again; a message is sent again) at once, in its own thread.  An
  undo hook is itself one non-blocking attempt: it raises ``sysv_ipc.BusyError`` when
  it cannot give back now (a message for a full queue), and the give-back is then
  retried, with the same back-off as a wait, by the first poller thread -- never by a
  thread of its own, however many are pending.
* **Give-backs survive interpreter exit.**  Poller threads are daemon threads, which
  the interpreter neither joins nor lets finish, so an :mod:`atexit` handler (it runs
  after ``asyncio.run`` has cancelled the leftover waiters and after every non-daemon
  thread has ended) finishes every give-back still pending, in the main thread: the
  process waits there for room in a full queue (logging a warning that names the
  queue after :data:`EXIT_WARNING` seconds) until the message is back or the queue is
  removed.  It also gives back a result a poller handed to a loop that stopped
  without ever running the waiter again (a loop closed without cancelling its tasks).
* **Errors.**  ``EINTR`` ("Signaled while waiting") is retried at once.  Removal of the
  object (sysv_ipc's ``ExistentialError``: ``EIDRM`` for a blocked caller, ``EINVAL``
  after) becomes :class:`aioipc.sysv.SysVRemoved` naming the object;
  ``PermissionsError`` becomes :class:`PermissionError`.  Any other exception from an
  attempt reaches the waiter unchanged.
* **Loops.**  Results are handed over with ``loop.call_soon_threadsafe``, which both
  asyncio's loop and uvloop provide; waiters of several loops in several threads share
  the pollers.  A waiter whose loop has closed is treated as cancelled.

A source build of sysv_ipc with ``semtimedop`` is polled the same way: a thread
blocked in the kernel, even in short slices, serves one waiter only, so it would cost
one thread per waited-on object, while the non-blocking attempts serve any number.

The interface, used by ``aioipc._sysv_semaphore`` and ``aioipc._sysv_queue``::

    result = await wait_for(
        attempt,            # () -> T: one non-blocking try; raises sysv_ipc.BusyError
                            #   when it would block.  Runs in a poller thread (and,
                            #   with try_first=True, once in the loop thread first).
        queue=(kind, id, what),   # hashable: waiters with equal keys wait in FIFO order
        describe="semaphore key 0x1234 (id 7)",   # names the object in errors
        undo=give_back,     # (T) -> object: one non-blocking attempt to give back a
                            #   result obtained for a waiter that was cancelled or
                            #   timed out meanwhile; raises sysv_ipc.BusyError to be
                            #   retried later; None if a result needs no undo
        timeout=None,       # seconds; None waits forever; 0 makes one attempt
        try_first=True,     # first attempt in the loop thread, unless waiters of this
                            #   process are already queued on the same key
    )

It raises :class:`aioipc.IPCTimeoutError` when ``timeout`` runs out (after giving back
a result that arrived too late), :class:`aioipc.sysv.SysVRemoved`,
:class:`PermissionError`, or whatever else ``attempt`` raised.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import sysv_ipc

from ._errors import IPCTimeoutError, SysVRemoved

__all__ = [
    "EXIT_WARNING",
    "FIRST_DELAY",
    "IDLE_EXIT",
    "MAX_DELAY",
    "MAX_DELAY_PER_QUEUE",
    "POLLER_THREADS",
    "check_timeout",
    "finish_give_backs",
    "give_backs_done",
    "has_waiters",
    "pending_give_backs",
    "poller_threads",
    "translate_error",
    "wait_for",
]

T = TypeVar("T")

#: How many poller threads at most (each queue is pinned to one).
POLLER_THREADS = 2
#: Delay before the first re-poll of a queue that just got a waiter or made progress.
FIRST_DELAY = 0.00005
#: Longest delay between two polls of an idle queue when a thread serves few queues.
MAX_DELAY = 0.002
#: Longest delay grows by this much per queue a thread serves (bounds idle CPU).
MAX_DELAY_PER_QUEUE = 0.0002
#: A poller thread with nothing to poll ends after this many seconds.
IDLE_EXIT = 1.0
#: At exit, a give-back still waiting for room after this many seconds is logged.
EXIT_WARNING = 1.0

_PENDING = 0  # waiting; a poller may attempt for it
_DONE = 1  # a poller got an outcome for it (result or error)
_CANCELLED = 2  # its awaiting side has gone (cancelled, timed out, loop closed)

_log = logging.getLogger("aioipc.sysv")


def _is_eintr(exc: BaseException) -> bool:
    if isinstance(exc, InterruptedError):
        return True
    return isinstance(exc, sysv_ipc.Error) and "signaled" in str(exc).lower()


def translate_error(exc: BaseException, describe: str, *, while_waiting: bool) -> BaseException:
    """Map a sysv_ipc exception to aioipc's vocabulary (others are returned unchanged)."""
    if isinstance(exc, sysv_ipc.ExistentialError):
        new: BaseException = SysVRemoved(describe, while_waiting=while_waiting)
    elif isinstance(exc, sysv_ipc.PermissionsError):
        new = PermissionError(f"permission denied on {describe}: {exc}")
    else:
        return exc
    new.__cause__ = exc
    return new


def check_timeout(timeout: float | None) -> float | None:
    """Return ``timeout`` as a float (or None), rejecting what is not a duration.

    Raises:
        TypeError: ``timeout`` is not a real number (a bool is refused too).
        ValueError: ``timeout`` is negative or NaN.
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds or None, not {timeout!r}")
    value = float(timeout)
    if math.isnan(value) or value < 0:
        raise ValueError(f"timeout must be a non-negative number of seconds, not {timeout!r}")
    return value


class _Waiter(Generic[T]):
    __slots__ = (
        "attempt",
        "describe",
        "error",
        "future",
        "lock",
        "loop",
        "result",
        "state",
        "undo",
    )

    def __init__(
        self,
        attempt: Callable[[], T],
        undo: Callable[[T], object] | None,
        loop: asyncio.AbstractEventLoop,
        describe: str,
    ) -> None:
        self.attempt = attempt
        self.undo = undo
        self.loop = loop
        self.describe = describe
        self.future: asyncio.Future[T] = loop.create_future()
        self.lock = threading.Lock()
        self.state = _PENDING
        self.result: T | None = None
        self.error: BaseException | None = None


class _Queue:
    __slots__ = ("delay", "due", "waiters")

    def __init__(self) -> None:
        self.waiters: collections.deque[_Waiter[Any]] = collections.deque()
        self.delay = FIRST_DELAY
        self.due = 0.0


class _GiveBack:
    """A result that could not go back at once (a full queue), retried until it does."""

    __slots__ = ("delay", "describe", "due", "result", "undo")

    def __init__(self, undo: Callable[[Any], object], result: Any, describe: str) -> None:
        self.undo = undo
        self.result = result
        self.describe = describe
        self.delay = FIRST_DELAY
        self.due = time.monotonic() + FIRST_DELAY


def _try_give_back(undo: Callable[[Any], object], result: Any) -> bool:
    """Make one non-blocking give-back attempt; return False if it must be retried."""
    while True:
        try:
            undo(result)
        except sysv_ipc.BusyError:
            return False
        except BaseException as exc:  # a failed give-back must not kill its caller
            if _is_eintr(exc):
                continue
            _log.exception("could not give back a result obtained for a cancelled SysV wait")
        return True


class _PollerThread:
    """One daemon thread polling the heads of the queues pinned to it.

    The first poller thread also retries the give-backs that could not be made at
    once (``give_backs``); ``busy`` counts those being attempted outside ``cond`` by
    it or by :func:`finish_give_backs`.
    """

    def __init__(self, index: int) -> None:
        self.index = index
        self.cond = threading.Condition(threading.Lock())
        self.queues: dict[Hashable, _Queue] = {}
        self.give_backs: collections.deque[_GiveBack] = collections.deque()
        self.busy = 0
        self.drained: list[Callable[[], object]] = []
        self.thread: threading.Thread | None = None

    # --- called from loop threads -------------------------------------------------

    def add(self, key: Hashable, waiter: _Waiter[Any]) -> None:
        with self.cond:
            queue = self.queues.get(key)
            if queue is None:
                queue = self.queues[key] = _Queue()
            queue.waiters.append(waiter)
            queue.delay = FIRST_DELAY
            queue.due = 0.0  # poll at once: the loop-thread attempt may be stale
            self._ensure_running()
            self.cond.notify()

    def defer_give_back(self, give_back: _GiveBack) -> None:
        with self.cond:
            self.give_backs.append(give_back)
            self._ensure_running()
            self.cond.notify()

    def has_waiters(self, key: Hashable) -> bool:
        with self.cond:
            queue = self.queues.get(key)
            if queue is None:
                return False
            # list() copies the deque in one C call, so a concurrent popleft is safe.
            return any(w.state == _PENDING for w in list(queue.waiters))

    def _ensure_running(self) -> None:
        if self.thread is None:
            thread = threading.Thread(
                target=self._run, name=f"aioipc-sysv-poller-{self.index}", daemon=True
            )
            try:
                thread.start()
            except RuntimeError:  # interpreter shutdown: finish_give_backs() does it
                return
            self.thread = thread

    # --- give-backs, shared by the thread and finish_give_backs() -------------------

    def take_give_backs(self, now: float | None) -> list[_GiveBack]:
        """Under ``cond``: remove the give-backs due at ``now`` (all if None)."""
        if now is None:
            taken = list(self.give_backs)
            self.give_backs.clear()
        else:
            taken = [g for g in self.give_backs if g.due <= now]
            if taken:
                self.give_backs = collections.deque(g for g in self.give_backs if g.due > now)
        self.busy += len(taken)
        return taken

    def retry_give_backs(self, taken: list[_GiveBack], cap: float) -> list[_GiveBack]:
        """Attempt each of ``taken`` (outside ``cond``); requeue and return the failures."""
        failed = [g for g in taken if not _try_give_back(g.undo, g.result)]
        now = time.monotonic()
        for give_back in failed:
            give_back.delay = min(give_back.delay * 2, cap)
            give_back.due = now + give_back.delay
        drained: list[Callable[[], object]] = []
        with self.cond:
            self.busy -= len(taken)
            self.give_backs.extend(failed)
            if not self.give_backs and not self.busy:
                drained, self.drained = self.drained, []
            self.cond.notify_all()
        for callback in drained:
            callback()
        return failed

    # --- the thread ---------------------------------------------------------------

    def _run(self) -> None:
        idle_since = time.monotonic()
        while True:
            with self.cond:
                while True:
                    now = time.monotonic()
                    if self.queues or self.give_backs:
                        idle_since = now
                        due = min(
                            [q.due for q in self.queues.values()]
                            + [g.due for g in self.give_backs]
                        )
                        if due <= now:
                            break
                        self.cond.wait(due - now)
                        continue
                    if now - idle_since >= IDLE_EXIT:
                        self.thread = None  # a later add() starts a new thread
                        return
                    self.cond.wait(IDLE_EXIT - (now - idle_since))
                ready = [(k, q) for k, q in self.queues.items() if q.due <= now]
                give_backs = self.take_give_backs(now)
                cap = max(MAX_DELAY, MAX_DELAY_PER_QUEUE * len(self.queues))
            if give_backs:
                self.retry_give_backs(give_backs, cap)
            for key, queue in ready:
                progressed = self._serve(queue)
                with self.cond:
                    if not queue.waiters:
                        if self.queues.get(key) is queue:
                            del self.queues[key]
                        continue
                    queue.delay = FIRST_DELAY if progressed else min(queue.delay * 2, cap)
                    queue.due = time.monotonic() + queue.delay

    def _serve(self, queue: _Queue) -> bool:
        """Attempt for the head of ``queue`` until one would block; return if any ended."""
        progressed = False
        while queue.waiters:
            waiter = queue.waiters[0]
            with waiter.lock:
                if waiter.state == _PENDING and waiter.loop.is_closed():
                    waiter.state = _CANCELLED
                if waiter.state != _PENDING:
                    queue.waiters.popleft()
                    progressed = True
                    continue
                try:
                    waiter.result = waiter.attempt()
                except sysv_ipc.BusyError:
                    return progressed
                except BaseException as exc:  # handed to the waiter
                    if _is_eintr(exc):
                        continue
                    waiter.error = exc
                waiter.state = _DONE
                if waiter.error is None and waiter.undo is not None:
                    _delivered.add(waiter)
            queue.waiters.popleft()
            progressed = True
            try:
                waiter.loop.call_soon_threadsafe(_resolve, waiter)
            except RuntimeError:  # the loop closed under us: nobody will take it
                _abandon(waiter)
        return progressed


def _give_back(waiter: _Waiter[Any]) -> None:
    """Give back ``waiter``'s result now if that can be done without blocking, else later."""
    assert waiter.undo is not None
    if not _try_give_back(waiter.undo, waiter.result):
        _pollers()[0].defer_give_back(_GiveBack(waiter.undo, waiter.result, waiter.describe))


def _abandon(waiter: _Waiter[Any]) -> None:
    """Mark ``waiter`` cancelled; give back its result if a poller had obtained one."""
    with waiter.lock:
        had_result = waiter.state == _DONE and waiter.error is None
        waiter.state = _CANCELLED
        _delivered.discard(waiter)
    if had_result and waiter.undo is not None:
        _give_back(waiter)


def _resolve(waiter: _Waiter[Any]) -> None:
    # In the loop thread.  A future already cancelled means the awaiting side has seen
    # (or will see) the cancellation, and gives the result back itself.
    if waiter.future.done():
        return
    if waiter.error is not None:
        waiter.future.set_exception(waiter.error)
    else:
        waiter.future.set_result(waiter.result)


_lock = threading.Lock()
_threads: list[_PollerThread] = []
#: Waiters whose result (one that would need giving back) a poller has handed to their
#: loop and that have not yet returned it to their caller or been abandoned.
_delivered: set[_Waiter[Any]] = set()


def _pollers() -> list[_PollerThread]:
    with _lock:
        if not _threads:
            _threads.extend(_PollerThread(i) for i in range(POLLER_THREADS))
        return _threads


def _poller_for(key: Hashable) -> _PollerThread:
    pollers = _pollers()
    return pollers[hash(key) % len(pollers)]


def _forget_after_fork() -> None:
    # The child has none of the parent's threads; start afresh (the parent's waiters
    # belong to the parent's loops, which the child must not touch, and the parent
    # gives back its own results).
    global _lock
    _lock = threading.Lock()
    _threads.clear()
    _delivered.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def has_waiters(queue: Hashable) -> bool:
    """Return whether waiters of this process are queued on ``queue`` (for fairness)."""
    return _poller_for(queue).has_waiters(queue)


def pending_give_backs() -> int:
    """How many give-backs are waiting to be retried or being retried now."""
    if not _threads:
        return 0
    first = _threads[0]
    with first.cond:
        return len(first.give_backs) + first.busy


async def give_backs_done() -> None:
    """Wait until every give-back that had to be deferred (to a full queue) is done.

    Give-backs that can be made at once are made by the cancelled waiter itself,
    before its cancellation reaches the caller; this waits for the others.  For tests
    and orderly shutdown: after it, a queue holds every message a cancelled receiver
    gave back.
    """
    if not _threads:
        return
    first = _threads[0]
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def finish() -> None:
        if not done.done():
            done.set_result(None)

    def mark() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
            loop.call_soon_threadsafe(finish)

    with first.cond:
        if not first.give_backs and not first.busy:
            return
        first.drained.append(mark)
    await done


def finish_give_backs() -> None:
    """Block until every pending give-back is done, making the attempts in this thread.

    Registered with :mod:`atexit`; callable by a program that wants the same guarantee
    earlier.  First abandons the results that pollers handed to loops that are not
    running (a loop closed or stopped without cancelling the waiter), so that they are
    given back too.  A message for a queue that stays full keeps this waiting until the
    queue has room or is removed; after :data:`EXIT_WARNING` seconds a warning naming
    the queue is logged once.
    """
    for waiter in list(_delivered):
        if not waiter.loop.is_running():
            _abandon(waiter)
    if not _threads:
        return
    first = _threads[0]
    started = time.monotonic()
    delay = FIRST_DELAY
    warned = False
    while True:
        with first.cond:
            while first.busy:  # the poller thread's attempt: non-blocking, so short
                first.cond.wait()
            taken = first.take_give_backs(None)
        if not taken:
            return
        failed = first.retry_give_backs(taken, MAX_DELAY)
        if not failed:
            delay = FIRST_DELAY
            continue
        if not warned and time.monotonic() - started >= EXIT_WARNING:
            warned = True
            _log.warning(
                "still waiting to give back %d result(s) that cancelled waits took: "
                "%s has no room for them yet (make room or remove it)",
                len(failed),
                ", ".join(sorted({g.describe for g in failed})),
            )
        time.sleep(delay)
        delay = min(delay * 2, MAX_DELAY * 5)


atexit.register(finish_give_backs)


def poller_threads() -> int:
    """How many poller threads are running now (for tests and diagnostics)."""
    return sum(1 for p in list(_threads) if p.thread is not None)


async def wait_for(
    attempt: Callable[[], T],
    *,
    queue: Hashable,
    describe: str,
    undo: Callable[[T], object] | None,
    timeout: float | None = None,
    try_first: bool = True,
) -> T:
    """Await a successful non-blocking ``attempt``; see the module docstring.

    Raises:
        IPCTimeoutError: ``timeout`` ran out first (also a :class:`TimeoutError`).
        SysVRemoved: the object was removed, before or while waiting.
        PermissionError: the object's mode does not allow the operation.
        Exception: anything else ``attempt`` raised.
    """
    timeout = check_timeout(timeout)
    if try_first and not has_waiters(queue):
        while True:
            try:
                return attempt()
            except sysv_ipc.BusyError:
                break
            except BaseException as exc:
                if _is_eintr(exc):
                    continue
                translated = translate_error(exc, describe, while_waiting=False)
                if translated is exc:
                    raise
                raise translated from exc
    if timeout == 0 and try_first:
        raise IPCTimeoutError(f"{describe}: would have to wait (timeout=0)")

    waiter: _Waiter[T] = _Waiter(attempt, undo, asyncio.get_running_loop(), describe)
    _poller_for(queue).add(queue, waiter)
    try:
        async with asyncio.timeout(timeout):
            try:
                result = await waiter.future
            except asyncio.CancelledError:
                _abandon(waiter)
                raise
        _delivered.discard(waiter)  # the caller has it now
        return result
    except BaseException as exc:
        if waiter.error is not None and exc is waiter.error:
            translated = translate_error(exc, describe, while_waiting=True)
            if translated is exc:
                raise
            raise translated from exc
        if isinstance(exc, TimeoutError) and not isinstance(exc, IPCTimeoutError):
            raise IPCTimeoutError(f"timed out after {timeout:g} s waiting on {describe}") from None
        raise
