"""The child watcher: learning, without blocking the loop, that a child has exited.

Every child aioipc starts -- exec'd by :mod:`aioipc._spawn` or forked by
:mod:`aioipc._fork` -- is handed to :func:`watch_child`, which returns a :class:`Child`:
``await child.wait()`` gives its :class:`ExitStatus`, ``child.send_signal()`` signals
it.  Only pids registered here are ever reaped, and each by its own pid.

How a child's exit reaches the loop
===================================

**pidfds (the default).**  ``os.pidfd_open(pid)`` gives an fd that becomes readable
when the process exits.  The watcher hands it to ``loop.add_reader`` -- an ordinary fd,
so it works the same on asyncio's selector loop and on uvloop -- and, when it fires,
reaps with ``os.waitid(P_PIDFD, pidfd, WEXITED | WNOHANG)``.  Why this is the default:

* No process-wide state is touched.  No signal disposition is installed, so nothing
  competes with asyncio's own child watcher, with libuv (which installs a C-level
  SIGCHLD handler as soon as uvloop spawns a subprocess), or with the application.
* It never reaps what it does not own: ``waitid`` on a pidfd can only reap that
  process, and a pid that somebody else reaped makes it fail with ECHILD instead of
  reaping an unrelated child that happens to reuse the number.
* Signals go through ``signal.pidfd_send_signal``: the pidfd refers to the process,
  not to the number, so a recycled pid is never hit (cpython#120804, tokio#6152).
* One wake-up per exit, whatever else the process is doing: 200 children exiting
  at once cost 200 ``waitid`` calls, not 200 x 200 ``waitpid`` polls.

The price is one fd per running child (counted against ``RLIMIT_NOFILE``) and
Linux >= 5.3 (``pidfd_open``), 5.4 for ``P_PIDFD`` (where it is missing, the pidfd
still says *when*, and ``waitpid(pid, WNOHANG)`` reaps, which is safe because the
child is ours and not yet reaped, so its pid cannot have been reused).

**SIGCHLD (the fallback, when pidfds are missing).**  The kernel sends SIGCHLD when
any child changes state, and merges repeats, so one delivery may stand for many
exits.  On each delivery the watcher polls every pid *it owns* with
``waitpid(pid, WNOHANG)``.  It never calls ``waitpid(-1)``: that reaps children that
belong to asyncio's subprocess code or to the application, which then report
"Unknown child process pid" and a returncode of 255.  The costs, and why this is
only the fallback:

* SIGCHLD's disposition is process-wide.  On asyncio's loop the watcher subscribes
  through aioipc's signal hub (``hub_for(loop).subscribe``; the public
  :func:`aioipc.on_signal` refuses SIGCHLD on purpose), so other subscribers keep
  working and the earlier disposition comes back when the last watched child is
  reaped.  uvloop refuses ``add_signal_handler(SIGCHLD)`` -- libuv owns that signal
  for its subprocesses -- so on uvloop the watcher installs a Python-level handler of
  its own that chains the previous one and is restored afterwards.  If libuv spawns a
  process (``loop.subprocess_exec``) while the fallback is active, libuv's C handler
  replaces ours and aioipc's children are noticed only at the next poll that another
  SIGCHLD triggers: mixing uvloop subprocesses with aioipc on a kernel without
  pidfds is not supported.
* Each delivery costs one ``waitpid`` per watched child.
* Signals are sent with ``os.kill`` while the child is not yet reaped (its pid is
  still reserved by the zombie, so it cannot have been reused); after reaping,
  nothing is sent.
* The subscription needs the main thread (signals are a main-thread affair).

A thread per child blocked in ``waitpid(pid)`` (asyncio's ``ThreadedChildWatcher``)
was rejected: it cannot be cancelled, costs a thread per child, and would park
executor threads (see ``DESIGN.md`` on the six-thread default executor).

The fallback can be forced on a kernel that has pidfds, for tests, with the private
:func:`_sigchld_fallback` context manager; it applies to children watched while it
is active.

Signalling a child that has already exited
==========================================

:meth:`Child.send_signal` returns ``False`` and sends nothing once the child has
exited (whether or not it has been reaped yet): a child may exit at any moment, so
raising ``ProcessLookupError`` for something the caller cannot prevent would only
make every cleanup path racy.  It returns ``True`` when the signal was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import threading
import weakref
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar

from ._signals import SignalLike, hub_for, signal_name, signal_number

__all__ = [
    "Child",
    "ExitStatus",
    "pidfds_supported",
    "run_to_completion",
    "watch_child",
]

T = TypeVar("T")

logger = logging.getLogger("aioipc.children")

#: How often the remaining members of a child's process group are looked for while a
#: shutdown waits out its grace period (they are not our children: no fd tells us).
_GROUP_POLL_INTERVAL = 0.05

# --------------------------------------------------------------------- exit status


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a child process ended: an exit code, or the signal that killed it.

    Exactly one of ``code`` and ``signal`` is set.  ``returncode`` follows
    :mod:`subprocess` (the code, or minus the signal number), and ``str()`` reads the
    way a person says it: ``"exited with status 3"``, ``"killed by SIGTERM"``,
    ``"killed by SIGSEGV (core dumped)"``.

    Raises:
        ValueError: (from the constructor) both or neither of ``code`` and ``signal``
            given, a code outside 0..255, a signal number below 1, or
            ``core_dumped`` without a signal.
    """

    #: The exit code (0..255) when the process exited, else None.
    code: int | None = None
    #: The number of the signal that killed the process, else None.
    signal: int | None = None
    #: True when the kernel wrote a core dump as the process died.
    core_dumped: bool = False

    def __post_init__(self) -> None:
        if (self.code is None) == (self.signal is None):
            raise ValueError("ExitStatus needs exactly one of code= and signal=")
        if self.code is not None and not 0 <= self.code <= 255:
            raise ValueError(f"an exit code is 0..255, not {self.code}")
        if self.signal is not None and self.signal < 1:
            raise ValueError(f"a signal number is positive, not {self.signal}")
        if self.core_dumped and self.signal is None:
            raise ValueError("core_dumped=True needs a terminating signal")

    @classmethod
    def from_wait_status(cls, status: int) -> ExitStatus:
        """Decode a raw wait status, as ``os.waitpid`` and ``os.wait`` return it.

        Raises:
            ValueError: the status is a stopped or continued report, not an exit.
        """
        if os.WIFEXITED(status):
            return cls(code=os.WEXITSTATUS(status))
        if os.WIFSIGNALED(status):
            return cls(signal=os.WTERMSIG(status), core_dumped=os.WCOREDUMP(status))
        raise ValueError(f"wait status {status:#x} reports a stop or continue, not an exit")

    @classmethod
    def from_returncode(cls, returncode: int) -> ExitStatus:
        """Build the status that a :mod:`subprocess`-style returncode describes.

        Negative values are signals; the core-dump flag is not part of a returncode.

        Raises:
            ValueError: ``returncode`` is above 255.
        """
        if returncode < 0:
            return cls(signal=-returncode)
        return cls(code=returncode)

    @classmethod
    def _from_waitid(cls, result: os.waitid_result) -> ExitStatus:
        if result.si_code == os.CLD_EXITED:
            return cls(code=result.si_status)
        if result.si_code in (os.CLD_KILLED, os.CLD_DUMPED):
            return cls(signal=result.si_status, core_dumped=result.si_code == os.CLD_DUMPED)
        raise ValueError(f"waitid reported si_code {result.si_code}, not an exit")

    @property
    def returncode(self) -> int:
        """The status as :mod:`subprocess` reports it: the code, or ``-signal``."""
        if self.code is not None:
            return self.code
        assert self.signal is not None
        return -self.signal

    @property
    def success(self) -> bool:
        """True when the process exited with status 0."""
        return self.code == 0

    @property
    def signal_name(self) -> str | None:
        """The name of the terminating signal (``"SIGTERM"``), or None after an exit."""
        if self.signal is None:
            return None
        return _describe_signal(self.signal)

    def __str__(self) -> str:
        if self.code is not None:
            return f"exited with status {self.code}"
        text = f"killed by {self.signal_name}"
        if self.core_dumped:
            text += " (core dumped)"
        return text


def _signum(sig: SignalLike) -> int:
    """A signal number or name as a number; 0 (the existence check) is allowed."""
    if isinstance(sig, int) and not isinstance(sig, bool) and sig == 0:
        return 0
    return signal_number(sig)


def _describe_signal(signum: int) -> str:
    try:
        return signal_name(signum)
    except ValueError:
        return f"signal {signum}"


# --------------------------------------------------------------------- capability


_pidfds: bool | None = None
_force_sigchld = False


def pidfds_supported() -> bool:
    """Tell whether this kernel and Python offer pidfds (``os.pidfd_open``).

    The answer is probed once and cached.  When it is False, the watcher falls back
    to SIGCHLD (see the module documentation).
    """
    global _pidfds
    if _pidfds is None:
        if not hasattr(os, "pidfd_open") or not hasattr(signal, "pidfd_send_signal"):
            _pidfds = False
        else:
            try:
                os.close(os.pidfd_open(os.getpid()))
            except OSError as exc:
                if exc.errno not in (errno.ENOSYS, errno.EPERM, errno.EINVAL):
                    raise
                _pidfds = False
            else:
                _pidfds = True
    return _pidfds


@contextlib.contextmanager
def _sigchld_fallback() -> Iterator[None]:
    """Watch children started inside the block through SIGCHLD instead of pidfds.

    Private: it exists so that the fallback can be tested on a kernel with pidfds.
    """
    global _force_sigchld
    previous = _force_sigchld
    _force_sigchld = True
    try:
        yield
    finally:
        _force_sigchld = previous


def _use_pidfds() -> bool:
    return not _force_sigchld and pidfds_supported()


# --------------------------------------------------------------------- Child


class Child:
    """A child process of this process, watched by its loop's child watcher.

    Get one from :func:`watch_child` right after starting the child.  The watcher
    reaps it as soon as it exits, so it never stays a zombie while the loop runs.

    Attributes:
        pid: the child's process id.
    """

    __slots__ = (
        "__weakref__",
        "_exit",
        "_loop",
        "_own_group",
        "_pidfd",
        "_reaped",
        "_status",
        "_watcher",
        "pid",
    )

    def __init__(
        self,
        pid: int,
        watcher: _Watcher,
        pidfd: int | None,
        *,
        own_group: bool,
    ) -> None:
        """Children are made by :func:`watch_child`."""
        self.pid = pid
        self._watcher = watcher
        self._loop = watcher.loop
        self._pidfd = pidfd
        self._own_group = own_group
        self._exit: asyncio.Future[ExitStatus] = self._loop.create_future()
        self._status: ExitStatus | None = None
        self._reaped = False

    # ---------------------------------------------------------------- state

    @property
    def status(self) -> ExitStatus | None:
        """How the child ended, or None while it runs (or before the loop noticed)."""
        return self._status

    @property
    def returncode(self) -> int | None:
        """:attr:`ExitStatus.returncode` once the child has ended, else None."""
        return None if self._status is None else self._status.returncode

    @property
    def own_group(self) -> bool:
        """True when the child leads its own process group (its pgid is its pid)."""
        return self._own_group

    def __repr__(self) -> str:
        state = "running" if self._status is None else str(self._status)
        return f"<aioipc Child pid={self.pid} {state}>"

    def __del__(self) -> None:
        # Only reached once the loop has let go of the reader (it was closed with the
        # child still watched): do not leak the pidfd as well as the child.
        pidfd = getattr(self, "_pidfd", None)
        if pidfd is not None:
            self._pidfd = None
            with contextlib.suppress(OSError):
                os.close(pidfd)

    # ---------------------------------------------------------------- waiting

    async def wait(self) -> ExitStatus:
        """Wait until the child exits and return its :class:`ExitStatus`.

        Any number of tasks may wait at once.  Cancelling a ``wait()`` cancels only
        that wait: the child is still watched and reaped.

        Raises:
            ChildProcessError: the child was reaped by someone else (a ``waitpid(-1)``
                elsewhere in the process, or SIGCHLD set to ``SIG_IGN``), so its exit
                status is lost.
        """
        if self._exit.done():
            return self._exit.result()
        return await asyncio.shield(self._exit)

    def poll(self) -> ExitStatus | None:
        """Reap the child now if it has exited; return its status, or None if running.

        The watcher does this by itself on the next loop iteration; ``poll()`` is for
        code that wants an answer without yielding to the loop.

        Raises:
            ChildProcessError: as :meth:`wait`.
        """
        if not self._exit.done():
            self._watcher.check(self)
        if self._exit.done():
            return self._exit.result()
        return None

    # ---------------------------------------------------------------- signalling

    def send_signal(self, sig: SignalLike) -> bool:
        """Send ``sig`` to the child; return False if it had already exited.

        With pidfds the signal goes through ``pidfd_send_signal``, so a recycled pid is
        never hit.  Once the child has exited nothing is sent and the answer is False;
        signalling an exited child is not an error (it may exit at any moment, so
        callers could not avoid it).

        Raises:
            TypeError, ValueError: ``sig`` is not a signal number or name.
            PermissionError: not allowed to signal the child (it changed credentials).
        """
        signum = _signum(sig)
        if self._status is not None or self._reaped:
            return False
        try:
            if self._pidfd is not None:
                signal.pidfd_send_signal(self._pidfd, signum)
            else:
                os.kill(self.pid, signum)
        except ProcessLookupError:
            return False
        return True

    def signal_group(self, sig: SignalLike) -> bool:
        """Send ``sig`` to the child's process group, if the child leads its own.

        Returns False (sending nothing) when the child does not lead a group of its
        own, or when the group has no member left.  While the child is not yet
        reaped its pid, which is the group id, cannot be reused, so the signal cannot
        reach a stranger; after that, only remaining members keep the id reserved.

        Raises:
            TypeError, ValueError: ``sig`` is not a signal number or name.
            PermissionError: not allowed to signal any member of the group.
        """
        signum = _signum(sig)
        if not self._own_group:
            return False
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            return False
        return True

    async def shutdown(self, grace: float) -> ExitStatus:
        """Stop the child the polite way and reap it: SIGTERM, ``grace`` seconds, SIGKILL.

        When the child leads its own process group, the whole group gets SIGTERM, and
        whatever is left of it when the grace period ends gets SIGKILL, even if the
        child itself exited in time (a grandchild holding a pipe open would otherwise
        make readers wait for an EOF that never comes).  A child that has already
        exited is only reaped (and its group, if any, dealt with the same way).

        The whole sequence is shielded: cancelling the caller does not cut it short
        (the caller's cancellation is re-raised at the end).  ``grace=0`` sends SIGKILL
        right after SIGTERM.

        Raises:
            ChildProcessError: as :meth:`wait`.
        """
        return await run_to_completion(self._shutdown(grace))

    async def _shutdown(self, grace: float) -> ExitStatus:
        loop = self._loop
        deadline = loop.time() + max(grace, 0.0)
        if self._status is None:
            self._signal_all(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await asyncio.shield(self._exit)
        if self._status is None:
            self._signal_all(signal.SIGKILL)
        status = await asyncio.shield(self._exit)
        if self._own_group:
            # The leader is reaped; members left keep the group id reserved, and when
            # none is left killpg says ESRCH.  They are not our children, so no fd tells
            # when they go: look every few milliseconds until the grace period ends.
            while self._group_alive() and loop.time() < deadline:
                await asyncio.sleep(_GROUP_POLL_INTERVAL)
            self._signal_all(signal.SIGKILL)
        return status

    def _signal_all(self, signum: int) -> None:
        with contextlib.suppress(PermissionError):
            self.signal_group(signum)
        self.send_signal(signum)

    def _group_alive(self) -> bool:
        try:
            return self.signal_group(0)
        except PermissionError:
            return True


async def run_to_completion(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end even if the caller is cancelled meanwhile.

    Cleanup code (killing and reaping a child) must not be cut short by a second
    cancellation.  ``coro`` runs as its own task; cancellations of the caller are
    absorbed while it runs, and one ``CancelledError`` is raised after it finished.

    Raises:
        Whatever ``coro`` raises; ``asyncio.CancelledError`` if the caller was
        cancelled while waiting.
    """
    task = asyncio.ensure_future(coro)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                if task.cancelled():
                    raise
                result = task.result()
                break
            cancelled = True
            continue
        break
    if cancelled:
        raise asyncio.CancelledError
    return result


# --------------------------------------------------------------------- the watcher


class _SigchldSubscriber:
    """Receives SIGCHLD from the signal hub (the ``_Subscriber`` protocol)."""

    __slots__ = ("_watcher",)

    def __init__(self, watcher: _Watcher) -> None:
        self._watcher = watcher

    def _deliver(self, signum: int) -> None:
        self._watcher.poll_all()

    def _detach(self) -> None:
        self._watcher.sigchld_detached()


class _Watcher:
    """The child watcher of one event loop: pidfd readers plus the SIGCHLD fallback."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop_ref = weakref.ref(loop)
        #: Children watched through SIGCHLD, by pid.
        self._polled: dict[int, Child] = {}
        self._subscriber: _SigchldSubscriber | None = None
        self._own_handler: Any = None
        self._previous_handler: Any = None
        self._poll_scheduled = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop_ref()
        if loop is None or loop.is_closed():
            raise RuntimeError("the event loop of this child watcher is closed")
        return loop

    # ---------------------------------------------------------------- registering

    def watch(self, pid: int, *, own_group: bool) -> Child:
        loop = self.loop
        if _use_pidfds():
            pidfd = os.pidfd_open(pid)
            try:
                # Is it really our child?  WNOWAIT leaves its state as it is.
                os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                os.close(pidfd)
                raise ChildProcessError(
                    errno.ECHILD, f"pid {pid} is not a child of this process"
                ) from None
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # Linux 5.3: pidfd_open without P_PIDFD
                    os.close(pidfd)
                    raise
            child = Child(pid, self, pidfd, own_group=own_group)
            try:
                loop.add_reader(pidfd, self._on_pidfd, child)
            except BaseException:
                os.close(pidfd)
                raise
            return child
        child = Child(pid, self, None, own_group=own_group)
        try:
            finished = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            raise ChildProcessError(
                errno.ECHILD, f"pid {pid} is not a child of this process"
            ) from None
        if finished[0] == pid:
            self._finish(child, ExitStatus.from_wait_status(finished[1]))
            return child
        self._polled[pid] = child
        try:
            self._subscribe()
        except BaseException:
            del self._polled[pid]
            raise
        # It may have exited between the check above and the subscription.
        self.check(child)
        return child

    # ---------------------------------------------------------------- pidfd mode

    def _on_pidfd(self, child: Child) -> None:
        self.check(child)

    def check(self, child: Child) -> None:
        """Look at one child now; record and reap its exit if it has one."""
        if child._exit.done():
            return
        if child._pidfd is None:
            self._check_by_pid(child)
            return
        try:
            result = os.waitid(os.P_PIDFD, child._pidfd, os.WEXITED | os.WNOHANG)
        except ChildProcessError as exc:
            self._lost(child, exc)
            return
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            self._check_by_pid(child)  # Linux 5.3: pidfd_open, but no P_PIDFD yet
            return
        if result is None:
            return  # not exited yet (a spurious wake-up)
        self._finish(child, ExitStatus._from_waitid(result))

    def _check_by_pid(self, child: Child) -> None:
        # Safe by pid: the child is ours and not yet reaped, so its pid is not reused.
        try:
            pid, status = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError as exc:
            self._lost(child, exc)
            return
        if pid == child.pid:
            self._finish(child, ExitStatus.from_wait_status(status))

    # ---------------------------------------------------------------- SIGCHLD mode

    def poll_all(self) -> None:
        """A SIGCHLD arrived: poll every pid this watcher owns (never ``waitpid(-1)``)."""
        self._poll_scheduled = False
        for child in list(self._polled.values()):
            if not child._exit.done():
                self._check_by_pid(child)

    def _subscribe(self) -> None:
        if self._subscriber is not None or self._own_handler is not None:
            return
        loop = self.loop
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError(
                "without pidfds, children are watched through SIGCHLD, which needs the "
                "main thread; start children from the main thread's event loop"
            )
        subscriber = _SigchldSubscriber(self)
        try:
            hub_for(loop).subscribe(signal.SIGCHLD, subscriber)
        except RuntimeError:
            if loop.is_closed():
                raise
            # uvloop: "cannot add a signal handler for SIGCHLD" -- libuv owns it.
            self._install_own_handler()
        else:
            self._subscriber = subscriber

    def _install_own_handler(self) -> None:
        previous = signal.getsignal(signal.SIGCHLD)
        loop_ref = self._loop_ref

        def on_sigchld(signum: int, frame: FrameType | None) -> None:
            # Runs in whatever frame the signal interrupted: only schedule the poll.
            if not self._poll_scheduled:
                loop = loop_ref()
                if loop is not None:
                    self._poll_scheduled = True
                    try:
                        loop.call_soon_threadsafe(self.poll_all)
                    except RuntimeError:  # the loop is closed
                        self._poll_scheduled = False
            if callable(previous):
                previous(signum, frame)

        signal.signal(signal.SIGCHLD, on_sigchld)
        signal.siginterrupt(signal.SIGCHLD, False)
        self._own_handler = on_sigchld
        self._previous_handler = previous

    def _unsubscribe(self) -> None:
        if self._subscriber is not None:
            subscriber, self._subscriber = self._subscriber, None
            hub_for(self.loop).unsubscribe(signal.SIGCHLD, subscriber)
        if self._own_handler is not None:
            if signal.getsignal(signal.SIGCHLD) is self._own_handler:
                previous = self._previous_handler
                signal.signal(signal.SIGCHLD, previous if previous is not None else signal.SIG_DFL)
            self._own_handler = self._previous_handler = None

    def sigchld_detached(self) -> None:
        """The loop is closing and the hub let go of every subscriber."""
        self._subscriber = None

    # ---------------------------------------------------------------- endings

    def _finish(self, child: Child, status: ExitStatus) -> None:
        child._status = status
        child._reaped = True
        self._release(child)
        if not child._exit.done():
            child._exit.set_result(status)

    def _lost(self, child: Child, exc: ChildProcessError) -> None:
        child._reaped = True
        self._release(child)
        error = ChildProcessError(
            errno.ECHILD,
            f"child pid {child.pid} was reaped by someone else (a waitpid(-1) elsewhere "
            "in this process, or SIGCHLD set to SIG_IGN); its exit status is lost",
        )
        error.__cause__ = exc
        if not child._exit.done():
            child._exit.set_exception(error)
            child._exit.exception()  # retrieved: waiters re-raise it, nobody else logs it

    def _release(self, child: Child) -> None:
        pidfd, child._pidfd = child._pidfd, None
        if pidfd is not None:
            self._remove_reader(pidfd)
            os.close(pidfd)
        if self._polled.pop(child.pid, None) is not None and not self._polled:
            self._unsubscribe()

    def _remove_reader(self, fd: int) -> None:
        loop = self._loop_ref()
        if loop is not None and not loop.is_closed():
            loop.remove_reader(fd)


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watcher] = (
    weakref.WeakKeyDictionary()
)


def _watcher_for(loop: asyncio.AbstractEventLoop) -> _Watcher:
    watcher = _watchers.get(loop)
    if watcher is None:
        watcher = _watchers[loop] = _Watcher(loop)
    return watcher


def watch_child(
    pid: int,
    *,
    own_group: bool = False,
    loop: asyncio.AbstractEventLoop | None = None,
) -> Child:
    """Start watching ``pid``, a child this process has just started.

    Call it on the loop's thread right after ``posix_spawn`` or ``fork`` returns, and
    before yielding to the loop.  From then on the loop's watcher reaps the child
    when it exits (a child that has already exited is reaped at once).  Pass
    ``own_group=True`` when the child was made the leader of its own process group
    (``setsid``/``setpgid(0, 0)``), so that :meth:`Child.signal_group` and
    :meth:`Child.shutdown` reach the whole group.

    Raises:
        ChildProcessError: ``pid`` is not a child of this process.
        ProcessLookupError: there is no process ``pid``.
        RuntimeError: no running loop and no ``loop=``, the loop is closed, or (without
            pidfds) not the main thread.
        OSError: no fd for the pidfd (``EMFILE``).
    """
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise ValueError(f"pid must be a positive int, not {pid!r}")
    if loop is None:
        loop = asyncio.get_running_loop()
    return _watcher_for(loop).watch(pid, own_group=own_group)
