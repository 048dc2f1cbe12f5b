"""Receiving signals: handlers (on_signal), streams (open_signal_stream), ignore_signals.

The machinery behind them, and why it is built that way, is in :mod:`aioipc._signal_hub`.
"""

from __future__ import annotations

import asyncio
import contextvars
import signal
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, contextmanager
from types import TracebackType

import anyio
import anyio.abc

from ._kill import is_alive, kill, kill_group
from ._signal_hub import (
    SignalHub,
    _check_subscribable,
    _ignore_frames,
    _IgnoreFrame,
    _install_py_handler,
    _log_callback_error,
    _require_main_thread,
    hub_for,
)
from ._signal_names import _UNCATCHABLE, SignalLike, _to_signum, signal_name, signal_number

# The hub, names and kill live in their own modules; they are re-exported here so that
# "aioipc._signals" stays the one place the rest of aioipc imports signal things from.
__all__ = [
    "SignalHandle",
    "SignalHub",
    "SignalLike",
    "SignalStream",
    "hub_for",
    "ignore_signals",
    "is_alive",
    "kill",
    "kill_group",
    "on_signal",
    "open_signal_stream",
    "signal_name",
    "signal_number",
]

# ----------------------------------------------------------------------- on_signal


class SignalHandle:
    """A subscription made by :func:`on_signal`.

    ``remove()`` ends it (idempotent).  The handle is also a context manager whose exit
    removes it::

        with aioipc.on_signal(signal.SIGHUP, reload):
            await serve()
    """

    __slots__ = ("__weakref__", "_active", "_callback", "_context", "_hub", "_signum")

    def __init__(self, hub: SignalHub, signum: int, callback: Callable[[int], object]) -> None:
        self._hub = hub
        self._signum = signum
        self._callback = callback
        self._context = contextvars.copy_context()
        self._active = False

    @property
    def signum(self) -> int:
        """The signal number this handle subscribes to."""
        return self._signum

    @property
    def callback(self) -> Callable[[int], object]:
        """The callback given to :func:`on_signal`."""
        return self._callback

    @property
    def active(self) -> bool:
        """True until :meth:`remove` is called or the loop is closed."""
        return self._active

    def remove(self) -> None:
        """Stop delivering the signal to the callback; calling it again does nothing.

        Tasks already started by an async callback keep running.  When this was the last
        subscriber of the signal, the handler that was there before is restored.

        Raises:
            NotMainThreadError: the subscription is active and this is not the main thread.
        """
        if not self._active:
            return
        _require_main_thread("SignalHandle.remove()")
        self._active = False
        self._hub.unsubscribe(self._signum, self)

    def __enter__(self) -> SignalHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def __repr__(self) -> str:
        state = "active" if self._active else "removed"
        return f"<SignalHandle {signal_name(self._signum)} {self._callback!r} {state}>"

    def _deliver(self, signum: int) -> None:
        if not self._active:
            return
        try:
            result = self._context.run(self._callback, signum)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            _log_callback_error(signum, self._callback, exc)
            return
        if asyncio.iscoroutine(result):
            self._hub._spawn(result, self._context, signum, self._callback)

    def _detach(self) -> None:
        self._active = False


def _running_loop(loop: asyncio.AbstractEventLoop | None, what: str) -> asyncio.AbstractEventLoop:
    if loop is not None:
        return loop
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            f"{what} needs an event loop: call it from a coroutine or a callback running on "
            "the loop, or pass loop="
        ) from None


def on_signal(
    sig: SignalLike,
    callback: Callable[[int], object],
    *,
    loop: asyncio.AbstractEventLoop | None = None,
) -> SignalHandle:
    """Call ``callback(signum)`` in the event loop each time ``sig`` arrives.

    Perl's ``$SIG{HUP} = \\&handler``, but any number of callbacks coexist on one signal,
    and a handler the loop already had keeps working.  The callback runs deferred, in the
    loop (never in the interrupted frame), once per delivery the process saw (the kernel
    merges repeats of a standard signal that arrive while one is pending).  An ``async``
    callback runs as a task that the hub keeps a reference to.  An exception from the
    callback (or its task) is logged on the ``aioipc.signals`` logger with the signal's
    name and does not stop delivery to the other subscribers; ``SystemExit`` and
    ``KeyboardInterrupt`` propagate out of the loop after the others had their turn.
    Callbacks run in a copy of the context that was current here.

    Args:
        sig: the signal, by number or name (``signal.SIGHUP``, ``"HUP"``).
        callback: called with the signal number; may be a coroutine function.
        loop: the loop to deliver in; by default the running loop.

    Returns:
        A :class:`SignalHandle`; ``remove()`` it, or use it as a context manager.

    Raises:
        TypeError: ``sig`` is not a number or name, or ``callback`` is not callable.
        ValueError: an unknown signal, or one that cannot be subscribed to: SIGKILL and
            SIGSTOP (the kernel forbids it), SIGCHLD (the loop's child watcher owns it),
            SIGSEGV/SIGBUS/SIGILL/SIGFPE (faults cannot be deferred).
        NotMainThreadError: called off the main thread.
        RuntimeError: no running loop and no ``loop=``, or the loop is closed.
    """
    signum = _check_subscribable(sig)
    if not callable(callback):
        raise TypeError(f"callback must be callable, not {callback!r}")
    _require_main_thread("on_signal()")
    the_loop = _running_loop(loop, "on_signal()")
    hub = hub_for(the_loop)
    handle = SignalHandle(hub, signum, callback)
    handle._active = True
    try:
        hub.subscribe(signum, handle)
    except BaseException:
        handle._active = False
        raise
    return handle


# ------------------------------------------------------------------- signal streams


class SignalStream(anyio.abc.ObjectReceiveStream[int]):
    """Signal numbers as they arrive, from :func:`open_signal_stream`.

    Each signal has at most one pending entry, kept in order of first arrival: a
    consumer that falls behind sees a repeat of a signal it has not yet received as
    one entry (``coalesced`` counts the repeats merged this way), the way the kernel
    merges a standard signal that is already pending.  Delivery to other subscribers
    never waits for this stream.
    """

    def __init__(self, hub: SignalHub, signums: tuple[int, ...]) -> None:
        self._hub = hub
        self._signums = signums
        self._pending: dict[int, None] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False
        self._subscribed: list[int] = []
        #: How many deliveries were merged into an entry that was already pending.
        self.coalesced = 0

    @property
    def signals(self) -> frozenset[int]:
        """The signal numbers this stream receives."""
        return frozenset(self._signums)

    @property
    def closed(self) -> bool:
        """True once the stream has been closed (its block left)."""
        return self._closed

    def pending(self) -> tuple[int, ...]:
        """The signals waiting to be received, oldest first (a snapshot)."""
        return tuple(self._pending)

    async def receive(self) -> int:
        """Wait for the next signal and return its number.

        A signal that was already pending is returned without waiting.  Cancelling a
        waiting ``receive()`` loses nothing: the signal stays pending.

        Raises:
            anyio.ClosedResourceError: the stream was closed (also while waiting).
        """
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            if self._pending:
                signum = next(iter(self._pending))
                del self._pending[signum]
                return signum
            if self._hub.deliver_now():
                # Counted while this task ran, not yet drained: taken now rather than
                # one loop iteration later.
                continue
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                self._waiters.remove(waiter)

    async def aclose(self) -> None:
        """Unsubscribe from every signal and wake any waiting ``receive()``.

        Raises:
            NotMainThreadError: called off the main thread while still open.
        """
        self._close()

    def _close(self) -> None:
        if self._closed:
            return
        _require_main_thread("closing a signal stream")
        self._closed = True
        for signum in self._subscribed:
            self._hub.unsubscribe(signum, self)
        self._subscribed.clear()
        self._wake()

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _deliver(self, signum: int) -> None:
        if self._closed:
            return
        if signum in self._pending:
            self.coalesced += 1
            return
        self._pending[signum] = None
        self._wake()

    def _detach(self) -> None:
        self._closed = True
        self._subscribed.clear()

    def _open(self) -> None:
        try:
            for signum in self._signums:
                self._hub.subscribe(signum, self)
                self._subscribed.append(signum)
        except BaseException:
            self._close()
            raise

    def __repr__(self) -> str:
        names = ", ".join(signal_name(s) for s in self._signums)
        state = "closed" if self._closed else "open"
        return f"<SignalStream {names} {state}, coalesced={self.coalesced}>"


class _OpenSignalStream(AbstractAsyncContextManager[SignalStream]):
    def __init__(self, signums: tuple[int, ...]) -> None:
        self._signums = signums
        self._stream: SignalStream | None = None

    async def __aenter__(self) -> SignalStream:
        if self._stream is not None:
            raise RuntimeError("open_signal_stream() can be entered only once")
        _require_main_thread("open_signal_stream()")
        stream = SignalStream(hub_for(asyncio.get_running_loop()), self._signums)
        stream._open()
        self._stream = stream
        return stream

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            self._stream._close()


def open_signal_stream(*sigs: SignalLike) -> AbstractAsyncContextManager[SignalStream]:
    """Receive signals as an async stream while the ``async with`` block runs.

    ::

        async with aioipc.open_signal_stream(signal.SIGHUP, signal.SIGTERM) as sigs:
            async for signum in sigs:
                if signum == signal.SIGHUP:
                    reload()
                else:
                    break

    Entering subscribes (through the loop's signal hub, alongside any other handler);
    leaving unsubscribes.  See :class:`SignalStream` for the buffering rules.

    Raises:
        TypeError, ValueError: as :func:`on_signal`, checked here; also ValueError when
            no signal is given.
        NotMainThreadError: called (or entered) off the main thread.
    """
    if not sigs:
        raise ValueError("open_signal_stream() needs at least one signal")
    signums = tuple(dict.fromkeys(_check_subscribable(s) for s in sigs))
    _require_main_thread("open_signal_stream()")
    return _OpenSignalStream(signums)


# --------------------------------------------------------------------- ignore_signals


def _pop_ignore_frame(signum: int, frame: _IgnoreFrame) -> None:
    frames = _ignore_frames[signum]
    index = next(i for i, f in enumerate(frames) if f is frame)
    if index == len(frames) - 1:
        frames.pop()
        _install_py_handler(signum, frame.saved)
    else:
        # Left out of order (two tasks interleaving): the frame above inherits what this
        # one would have restored, and the signal stays ignored.
        frames[index + 1].saved = frame.saved
        del frames[index]
    if not frames:
        del _ignore_frames[signum]


@contextmanager
def _ignoring(signums: tuple[int, ...]) -> Iterator[None]:
    entered: list[tuple[int, _IgnoreFrame]] = []
    try:
        for signum in signums:
            frame = _IgnoreFrame(signal.getsignal(signum))
            signal.signal(signum, signal.SIG_IGN)
            _ignore_frames.setdefault(signum, []).append(frame)
            entered.append((signum, frame))
        yield
    finally:
        for signum, frame in reversed(entered):
            _pop_ignore_frame(signum, frame)


def ignore_signals(*sigs: SignalLike) -> AbstractContextManager[None]:
    """Ignore signals (``SIG_IGN``) inside a ``with`` block, then restore what was there.

    Perl's ``local $SIG{INT} = 'IGNORE'``.  The kernel discards an ignored signal, so it
    is not delivered later either.  Blocks nest: an inner block's exit restores the
    outer block's state (still ignored).  A signal the loop's hub handles is really
    ignored too, and the hub's handler is back on exit; subscriptions made or removed
    inside the block take effect at its exit.

    Raises:
        TypeError, ValueError: an unknown signal; SIGKILL or SIGSTOP (cannot be
            ignored); SIGCHLD (ignoring it makes the kernel reap every child, stealing
            them from the loop's child watcher).
        NotMainThreadError: called off the main thread.
        RuntimeError: the signal's handler was installed outside Python and could not
            be restored afterwards.
    """
    signums: list[int] = []
    for sig in sigs:
        signum = _to_signum(sig)
        if signum in _UNCATCHABLE:
            raise ValueError(
                f"{signal_name(signum)} cannot be caught, blocked or ignored; the kernel "
                "forbids it"
            )
        if signum == signal.SIGCHLD:
            raise ValueError(
                "ignoring SIGCHLD makes the kernel reap every child at once, stealing them "
                "from the event loop's child watcher"
            )
        signums.append(signum)
    _require_main_thread("ignore_signals()")
    for signum in signums:
        if signal.getsignal(signum) is None:
            raise RuntimeError(
                f"{signal_name(signum)} has a handler installed outside Python, which "
                "could not be restored afterwards"
            )
    return _ignoring(tuple(dict.fromkeys(signums)))
