"""Signals, the asyncio way: one hub per loop, handlers, streams, ignoring, kill, names.

How a signal travels
====================

perlipc's "Deferred Signals" describes what Perl has done since 5.7.3: the C-level
handler only sets a flag, and the Perl handler runs later, at a safe point.  aioipc does
the same with the event loop as the safe point:

1. The kernel interrupts the main thread.  CPython's C handler marks the signal as
   tripped, writes its number to the wakeup fd and returns.
2. At the next bytecode boundary CPython calls the Python-level handler.  For every
   signal the hub manages that handler is the hub's ``_note_signal``: it adds one to a
   per-signal counter and, once per burst, asks the loop to drain the counters
   (``call_soon``).  Nothing else runs in the interrupted frame.
3. The loop runs the drain: every counted delivery reaches every subscriber once, in
   the loop, where any code is safe.

Why not hand everything to ``loop.add_signal_handler``?

* A loop keeps one handler per signal: a second ``add_signal_handler`` silently replaces
  the first, and ``remove_signal_handler`` resets the signal to ``SIG_DFL`` instead of
  restoring what was there (cpython#88378).
* asyncio learns of a signal only from its byte in the wakeup fd.  When a flood fills
  that socket, bytes are dropped -- and with them, possibly, the only byte of a
  *different* signal -- and CPython reports each dropped byte as an unraisable
  exception.  The counters above do not depend on the bytes, so nothing is lost, and
  the hub switches the wakeup fd's ``warn_on_full_buffer`` off (as uvloop does).
* uvloop's ``remove_signal_handler`` does nothing and returns False when the loop is not
  running, leaving its ``Loop.__sighandler`` installed -- pinning the loop and
  swallowing the signal for the rest of the process.  The hub puts back the handler
  that was there before it, whatever the loop did.

The hub still installs one dispatcher per signal with the loop's own
``add_signal_handler``, so the loop sets up its wakeup fd and knows the signal is taken;
the dispatcher simply drains.  On aioipc's loops (:class:`aioipc._loop.SignalRoutingMixin`)
the application's ``add_signal_handler`` lands in the hub too, as the signal's "loop
handler", so the order in which aioipc and the application install or remove handlers
does not matter.

The one private thing read
==========================

On an asyncio loop aioipc did not create, ``loop._signal_handlers`` (asyncio's table of
signal number to :class:`asyncio.Handle`) is the only place where a handler installed
before aioipc can be found.  The hub reads it to chain that handler (running it with
``Handle._run()``, exactly as the loop would) and to give it back (``Handle._callback``
and ``Handle._args``) when the last subscriber leaves.  Nothing is written there.
uvloop keeps its table in C, so on a foreign uvloop loop nothing can be seen: see
``docs/signals.md``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import selectors
import signal
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Protocol, TypeAlias

from ._errors import NotMainThreadError
from ._loop import SignalRoutingMixin
from ._signal_names import (
    _BLOCKABLE,
    _FAULTS,
    _UNCATCHABLE,
    _VALID_SIGNALS,
    SignalLike,
    _to_signum,
    signal_name,
)

__all__ = ["SignalHub", "hub_for"]

logger = logging.getLogger("aioipc.signals")

#: What ``signal.getsignal`` can return.
_PyHandler: TypeAlias = Callable[[int, FrameType | None], Any] | int | None

#: Code objects whose frame is on top exactly when a running loop sits between two
#: callbacks: asyncio's selector waiting for events, and ``asyncio.Runner.run`` -- below
#: a loop written in C (uvloop), which runs Python signal handlers from its own code.
_IDLE_LOOP_CODES = frozenset(
    {
        cls.__dict__["select"].__code__
        for cls in vars(selectors).values()
        if isinstance(cls, type)
        and issubclass(cls, selectors.BaseSelector)
        and "select" in cls.__dict__
        and hasattr(cls.__dict__["select"], "__code__")
    }
    | {asyncio.Runner.run.__code__}
)

# --------------------------------------------------- process-wide Python-level handlers


def _require_main_thread(what: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        raise NotMainThreadError(
            f"{what} must be called from the main thread: CPython runs signal handlers "
            "only there, and signal.set_wakeup_fd() is process-wide and main-thread only. "
            "Use loop.call_soon_threadsafe() to get there from another thread."
        )


@contextmanager
def _blocked(signums: Iterable[int] = _BLOCKABLE) -> Iterator[None]:
    """Block signals in this thread while a disposition changes hands.

    A signal that arrives meanwhile stays pending and is delivered to whatever handler is
    in place when the block ends, instead of meeting the ``SIG_DFL`` a loop's
    ``remove_signal_handler`` leaves for a moment (for SIGHUP or SIGTERM that would be
    death).  If the new disposition is ``SIG_IGN`` the kernel discards it.
    """
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signums)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _quiet_wakeup_fd() -> None:
    """Turn off CPython's warning when the wakeup fd is full.

    asyncio sets its wakeup fd with ``warn_on_full_buffer=True`` on every
    ``add_signal_handler``: a flood then prints one "Exception ignored when trying to
    write to the signal wakeup fd" per dropped byte.  The hub does not need those bytes
    (it counts deliveries itself), so a full buffer is harmless; uvloop already sets the
    flag this way.
    """
    with _blocked():
        fd = signal.set_wakeup_fd(-1)
        signal.set_wakeup_fd(fd, warn_on_full_buffer=False)


def _install_py_handler(signum: int, handler: _PyHandler) -> None:
    signal.signal(signum, handler)
    if callable(handler):
        # Keep SA_RESTART, as the loops' own add_signal_handler sets it.
        signal.siginterrupt(signum, False)


class _IgnoreFrame:
    __slots__ = ("saved",)

    def __init__(self, saved: _PyHandler) -> None:
        self.saved = saved


#: Active ignore_signals() frames per signal, oldest first.  While a signal has frames
#: its disposition is SIG_IGN and the handler "underneath" lives in frames[0].saved.
_ignore_frames: dict[int, list[_IgnoreFrame]] = {}


def _underlying_handler(signum: int) -> _PyHandler:
    """The Python-level handler, looking through any active ignore_signals() blocks."""
    frames = _ignore_frames.get(signum)
    if frames:
        return frames[0].saved
    return signal.getsignal(signum)


def _set_underlying_handler(signum: int, handler: _PyHandler) -> None:
    """Install ``handler``, or if the signal is being ignored, put it under the ignore."""
    frames = _ignore_frames.get(signum)
    if frames:
        frames[0].saved = handler
        signal.signal(signum, signal.SIG_IGN)
    else:
        _install_py_handler(signum, handler)


def _restorable(signum: int, handler: _PyHandler) -> _PyHandler:
    if handler is None:
        logger.warning(
            "%s had a handler installed outside Python; it cannot be restored, so "
            "SIG_DFL is put back instead",
            signal_name(signum),
        )
        return signal.SIG_DFL
    return handler


# --------------------------------------------------------------------------- the hub


class _Subscriber(Protocol):
    def _deliver(self, signum: int) -> None: ...

    def _detach(self) -> None: ...


class _LoopHandler:
    """The application's ``loop.add_signal_handler`` callback on an aioipc loop."""

    __slots__ = ("args", "callback", "context")

    def __init__(self, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        self.callback = callback
        self.args = args
        self.context = contextvars.copy_context()


class _Slot:
    """Everything the hub knows about one signal on one loop."""

    __slots__ = ("chained", "installed", "loop_handler", "original", "signum", "subscribers")

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.subscribers: list[_Subscriber] = []
        self.loop_handler: _LoopHandler | None = None
        #: On a foreign asyncio loop: the handler the loop had before the hub came.
        self.chained: asyncio.Handle | None = None
        self.installed = False
        self.original: _PyHandler = signal.SIG_DFL

    def in_use(self) -> bool:
        return bool(self.subscribers) or self.loop_handler is not None


def _is_asyncio_loop(loop: asyncio.AbstractEventLoop) -> bool:
    return isinstance(loop, asyncio.SelectorEventLoop) and isinstance(
        vars(loop).get("_signal_handlers"), dict
    )


def _foreign_handle(loop: asyncio.AbstractEventLoop, signum: int) -> asyncio.Handle | None:
    """The handler a foreign asyncio loop has for ``signum`` (the one private read)."""
    if not _is_asyncio_loop(loop):
        return None
    handle = vars(loop)["_signal_handlers"].get(signum)
    return handle if isinstance(handle, asyncio.Handle) else None


class SignalHub:
    """The signal dispatcher of one event loop (get it with :func:`hub_for`).

    It owns one dispatcher per signal, installed with the loop's real
    ``add_signal_handler``, and fans every delivery out to the loop handler (on aioipc
    loops), to a handler chained from before (on foreign asyncio loops) and to every
    subscriber.  When nothing is left it gives the loop back its earlier handler, or
    removes the dispatcher and restores the Python-level handler that was there first.
    Everything here must happen on the main thread.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop_ref = weakref.ref(loop)
        self._routed = isinstance(loop, SignalRoutingMixin)
        self._slots: dict[int, _Slot] = {}
        self._pending: dict[int, int] = {}
        self._drain_scheduled = False
        self._tasks: set[asyncio.Task[Any]] = set()
        # One bound-method object, so that identity checks against getsignal() work.
        self._py_handler: Callable[[int, FrameType | None], None] = self._note_signal
        self._dispatcher: Callable[[], None] = self._drain

    # ----------------------------------------------------------- public-ish API

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop this hub serves, or None once it has been garbage-collected."""
        return self._loop_ref()

    def subscribe(self, signum: int, subscriber: _Subscriber) -> None:
        """Add a subscriber for ``signum``, installing the dispatcher if needed.

        Raises:
            NotMainThreadError: called off the main thread.
            RuntimeError: the loop is closed.
        """
        _require_main_thread("subscribing to a signal")
        loop = self._live_loop()
        slot = self._slots.get(signum)
        if slot is None:
            slot = self._slots[signum] = _Slot(signum)
        slot.subscribers.append(subscriber)
        if not slot.installed:
            try:
                self._install(loop, slot)
            except BaseException:
                slot.subscribers.remove(subscriber)
                if not slot.in_use():
                    del self._slots[signum]
                raise

    def unsubscribe(self, signum: int, subscriber: _Subscriber) -> None:
        """Remove a subscriber; the last one out uninstalls the dispatcher.

        Raises:
            NotMainThreadError: the subscriber is subscribed and this is not the main
                thread.
        """
        slot = self._slots.get(signum)
        if slot is None or subscriber not in slot.subscribers:
            return
        _require_main_thread("removing a signal subscription")
        slot.subscribers.remove(subscriber)
        self._release(slot)

    def set_loop_handler(
        self, sig: int, callback: Callable[..., object], args: tuple[Any, ...]
    ) -> None:
        """``loop.add_signal_handler`` of an aioipc loop: fill the signal's loop-handler slot.

        Keeps asyncio's semantics: one loop handler per signal (a second call replaces
        the first), coroutine functions refused, SIGKILL/SIGSTOP cannot be caught.

        Raises:
            TypeError: ``sig`` is not an int, or ``callback`` is a coroutine function.
            ValueError: ``sig`` is not a signal number of this system.
            RuntimeError: SIGKILL or SIGSTOP, or the loop is closed.
            NotMainThreadError: called off the main thread.
        """
        loop = self._loop_ref()
        if loop is None:
            raise RuntimeError("Event loop is closed")
        if asyncio.iscoroutine(callback) or asyncio.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        _check_loop_signal(sig)
        if sig == signal.SIGCHLD:
            # The child watcher's business (libuv's on uvloop): not the hub's.
            super(SignalRoutingMixin, loop).add_signal_handler(  # type: ignore[misc]
                sig, callback, *args
            )
            return
        if sig in _UNCATCHABLE:
            raise RuntimeError(f"sig {sig} cannot be caught")
        if loop.is_closed():
            raise RuntimeError("Event loop is closed")
        _require_main_thread("add_signal_handler()")
        slot = self._slots.get(sig)
        if slot is None:
            slot = self._slots[sig] = _Slot(sig)
        previous = slot.loop_handler
        slot.loop_handler = _LoopHandler(callback, args)
        if not slot.installed:
            try:
                self._install(loop, slot)
            except BaseException:
                slot.loop_handler = previous
                if not slot.in_use():
                    del self._slots[sig]
                raise

    def remove_loop_handler(self, sig: int) -> bool:
        """``loop.remove_signal_handler`` of an aioipc loop.

        Returns True if a loop handler was removed, False if there was none.  aioipc's
        subscribers keep receiving the signal; when nothing is left the Python-level
        handler from before is restored (not ``SIG_DFL``).  Called by ``loop.close()``
        for every signal, it tears the whole hub down.

        Raises:
            TypeError, ValueError: ``sig`` is not a signal number.
            NotMainThreadError: called off the main thread.
        """
        loop = self._loop_ref()
        _check_loop_signal(sig)
        if sig == signal.SIGCHLD and loop is not None:
            return bool(
                super(SignalRoutingMixin, loop).remove_signal_handler(sig)  # type: ignore[misc]
            )
        slot = self._slots.get(sig)
        had_handler = slot is not None and slot.loop_handler is not None
        if loop is None or loop.is_closed():
            self._close()
            return had_handler
        if slot is None or slot.loop_handler is None:
            return False
        _require_main_thread("remove_signal_handler()")
        slot.loop_handler = None
        self._release(slot)
        return True

    # ------------------------------------------------------------- installing

    def _live_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop_ref()
        if loop is None or loop.is_closed():
            raise RuntimeError("the event loop is closed; signals cannot be subscribed to")
        return loop

    def _real_add(
        self, loop: asyncio.AbstractEventLoop, signum: int, callback: Callable[..., object]
    ) -> None:
        if self._routed:
            super(SignalRoutingMixin, loop).add_signal_handler(  # type: ignore[misc]
                signum, callback
            )
        else:
            loop.add_signal_handler(signum, callback)
        _quiet_wakeup_fd()

    def _real_remove(self, loop: asyncio.AbstractEventLoop, signum: int) -> None:
        # uvloop returns False and does nothing when the loop is not running; the caller
        # restores the Python-level handler either way.
        if self._routed:
            super(SignalRoutingMixin, loop).remove_signal_handler(signum)  # type: ignore[misc]
        else:
            loop.remove_signal_handler(signum)

    def _install(self, loop: asyncio.AbstractEventLoop, slot: _Slot) -> None:
        signum = slot.signum
        with _blocked():
            current = signal.getsignal(signum)
            if not self._routed:
                slot.chained = _foreign_handle(loop, signum)
                if slot.chained is None and getattr(current, "__self__", None) is loop:
                    logger.warning(
                        "%s may already have a handler on %r, installed outside aioipc; "
                        "aioipc cannot see a uvloop loop's handlers, and subscribing "
                        "replaces it (create the loop with aioipc.new_event_loop() to "
                        "keep both)",
                        signal_name(signum),
                        loop,
                    )
            if isinstance(getattr(current, "__self__", None), SignalHub) and (
                current is not self._py_handler
            ):
                logger.warning(
                    "%s is already handled by the aioipc hub of another event loop; "
                    "the newest loop receives it until it lets go (signals go to one "
                    "loop per process)",
                    signal_name(signum),
                )
            slot.original = _underlying_handler(signum)
            self._real_add(loop, signum, self._dispatcher)
            _set_underlying_handler(signum, self._py_handler)
            slot.installed = True

    def _release(self, slot: _Slot) -> None:
        if slot.in_use():
            return
        del self._slots[slot.signum]
        if slot.installed:
            self._uninstall(slot)

    def _still_ours(self, loop: asyncio.AbstractEventLoop, signum: int) -> bool:
        """False when a foreign asyncio loop's handler was replaced after the hub came."""
        if self._routed or not _is_asyncio_loop(loop):
            return True  # on a foreign uvloop loop there is no way to tell
        handle = _foreign_handle(loop, signum)
        return handle is not None and getattr(handle, "_callback", None) == self._dispatcher

    def _uninstall(self, slot: _Slot) -> None:
        signum = slot.signum
        slot.installed = False
        loop = self._loop_ref()
        with _blocked():
            if loop is not None and not self._still_ours(loop, signum):
                # The application replaced the dispatcher on a foreign asyncio loop:
                # its handler stays, untouched.
                return
            chained, slot.chained = slot.chained, None
            if (
                loop is not None
                and chained is not None
                and not chained.cancelled()
                and not loop.is_closed()
            ):
                # Give the loop back the handler it had before the hub came.
                callback = getattr(chained, "_callback")  # noqa: B009
                loop.add_signal_handler(signum, callback, *chained._args)
                _quiet_wakeup_fd()
                _set_underlying_handler(signum, signal.getsignal(signum))
                return
            if loop is not None:
                try:
                    self._real_remove(loop, signum)
                except (RuntimeError, ValueError) as exc:
                    logger.debug("remove_signal_handler(%d) failed: %s", signum, exc)
            original = slot.original
            if loop is not None and getattr(original, "__self__", None) is loop:
                # A foreign uvloop loop's own handler was there first; the hub replaced it
                # and the loop has just forgotten it: do what its removal would have done.
                original = (
                    signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
                )
            _set_underlying_handler(signum, _restorable(signum, original))

    def _close(self) -> None:
        """The loop is closing: detach every subscriber and restore every signal."""
        if not self._slots:
            return
        if threading.current_thread() is not threading.main_thread():
            logger.warning(
                "cannot restore signal handlers: the event loop was closed off the main thread"
            )
            self._slots.clear()
            return
        slots, self._slots = list(self._slots.values()), {}
        for slot in slots:
            for subscriber in slot.subscribers:
                subscriber._detach()
            slot.subscribers.clear()
            slot.loop_handler = None
            if slot.installed:
                self._uninstall(slot)

    # ------------------------------------------------------------- delivering

    def _note_signal(self, signum: int, frame: FrameType | None) -> None:
        """The Python-level handler: count the delivery, ask the loop to drain.

        Runs in whatever frame the signal interrupted, so it does nothing else -- unless
        that frame is the running loop's own, idle between callbacks (see
        :data:`_IDLE_LOOP_CODES`), where it drains at once.  It never raises, except
        what a subscriber's SystemExit or KeyboardInterrupt would raise from the loop.
        """
        self._pending[signum] = self._pending.get(signum, 0) + 1
        if self._drain_scheduled:
            return
        loop = self._loop_ref()
        if loop is None:
            return
        if (
            frame is not None
            and frame.f_code in _IDLE_LOOP_CODES
            and asyncio._get_running_loop() is loop
        ):
            # The signal interrupted the loop itself, between two callbacks: nothing of
            # ours or the application's is half done, so this is as safe a point as a
            # callback of the loop.  Delivering now puts the woken subscribers' tasks in
            # this iteration's batch instead of the next one's (a signal stream's
            # consumer wakes one loop iteration sooner).
            self._drain()
            return
        self._drain_scheduled = True
        # call_soon, not call_soon_threadsafe: this handler runs in the main thread,
        # the loop's, and the C-level handler has already written to the wakeup fd, so
        # the loop is awake or about to be (a full wakeup socket is readable too). A
        # second wake-up through the loop's self-pipe cost a write, a read and a loop
        # iteration per signal (the benchmarks' signal-roundtrip scenario shows it).
        try:
            loop.call_soon(self._dispatcher)
        except RuntimeError:  # the loop is closed
            self._drain_scheduled = False

    def deliver_now(self) -> bool:
        """Deliver the counted signals from a task of this loop, as the drain would.

        A subscriber about to wait calls this: a signal that arrived while its task ran
        (its Python-level handler then ran in the task's frame and only counted it) is
        delivered at once, instead of one loop iteration later by the drain callback.
        A SystemExit or KeyboardInterrupt a subscriber raises is re-raised from the
        loop, where the drain would have raised it, not in the caller's task.
        Returns whether there was anything to deliver.
        """
        if not self._pending:
            return False
        try:
            self._drain()
        except (SystemExit, KeyboardInterrupt) as exc:
            loop = self._loop_ref()
            if loop is None:
                raise
            loop.call_soon(_reraise, exc)
        return True

    def _drain(self) -> None:
        """Deliver every counted signal; the loop's own dispatcher calls this too."""
        self._drain_scheduled = False
        pending, self._pending = self._pending, {}
        for signum, count in pending.items():
            for _ in range(count):
                slot = self._slots.get(signum)
                if slot is None or not slot.installed:
                    break
                self._deliver(slot, signum)

    def _deliver(self, slot: _Slot, signum: int) -> None:
        deferred: BaseException | None = None
        chained = slot.chained
        if chained is not None and not chained.cancelled():
            try:
                chained._run()  # reports errors to the loop; re-raises SystemExit & co.
            except (SystemExit, KeyboardInterrupt) as exc:
                deferred = deferred or exc
        loop_handler = slot.loop_handler
        if loop_handler is not None:
            try:
                loop_handler.context.run(loop_handler.callback, *loop_handler.args)
            except (SystemExit, KeyboardInterrupt) as exc:
                # aiohttp's GracefulExit: stops the loop, after the others had their turn.
                deferred = deferred or exc
            except BaseException as exc:
                loop = self._loop_ref()
                if loop is not None:
                    loop.call_exception_handler(
                        {
                            "message": f"Exception in the loop's {signal_name(signum)} "
                            f"handler {loop_handler.callback!r}",
                            "exception": exc,
                        }
                    )
        for subscriber in tuple(slot.subscribers):
            try:
                subscriber._deliver(signum)
            except (SystemExit, KeyboardInterrupt) as exc:
                deferred = deferred or exc
        if deferred is not None:
            raise deferred

    def _spawn(
        self,
        coro: Any,
        context: contextvars.Context,
        signum: int,
        callback: Callable[[int], object],
    ) -> None:
        loop = self._loop_ref()
        if loop is None:
            coro.close()
            return
        task: asyncio.Task[Any] = loop.create_task(coro, context=context)
        self._tasks.add(task)

        def done(task: asyncio.Task[Any]) -> None:
            self._tasks.discard(task)
            if task.cancelled():
                return
            exc = task.exception()
            if exc is not None:
                _log_callback_error(signum, callback, exc)

        task.add_done_callback(done)


def _reraise(exc: BaseException) -> None:
    raise exc


def _check_loop_signal(sig: object) -> None:
    # asyncio's _check_signal: the errors loop.add_signal_handler raises.
    if isinstance(sig, bool) or not isinstance(sig, int):
        raise TypeError(f"sig must be an int, not {sig!r}")
    if sig not in _VALID_SIGNALS:
        raise ValueError(f"invalid signal number {sig}")


def _log_callback_error(signum: int, callback: object, exc: BaseException) -> None:
    logger.error(
        "%s handler %r raised %s",
        signal_name(signum),
        callback,
        type(exc).__name__,
        exc_info=exc,
    )


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SignalHub] = (
    weakref.WeakKeyDictionary()
)


def hub_for(loop: asyncio.AbstractEventLoop) -> SignalHub:
    """Return the signal hub of ``loop``, creating it on first use (one per loop)."""
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = SignalHub(loop)
    return hub


def _check_subscribable(sig: SignalLike, argname: str = "sig") -> int:
    signum = _to_signum(sig, argname)
    name = signal_name(signum)
    if signum in _UNCATCHABLE:
        raise ValueError(f"{name} cannot be caught, blocked or ignored; the kernel forbids it")
    if signum == signal.SIGCHLD:
        raise ValueError(
            "SIGCHLD belongs to the event loop's child watcher (uvloop's libuv installs its "
            "own handler, and reaping from a handler steals asyncio's children); wait for "
            "children through the process APIs instead"
        )
    if signum in _FAULTS:
        raise ValueError(
            f"{name} is a synchronous fault: a deferred handler would return to the "
            "faulting instruction and loop forever (use the faulthandler module)"
        )
    return signum
