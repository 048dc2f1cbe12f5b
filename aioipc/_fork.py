"""Forking the running program: :func:`open_fork` and :class:`ForkedProcess`, parent side.

The parent forks with signals blocked, waits until the child has set itself up (what
the child does between ``fork()`` and ``func`` is in :mod:`aioipc._fork_child`), and
wraps its ends of the pipes and the channel in an :class:`aioipc.Process`.

Threads
=======

Forking a process that has threads is inherently risky: a lock held by another thread
at the moment of the fork stays held forever in the child.  CPython resets some of its
own (the GIL, the import lock, ``threading``'s, ``logging``'s handler locks) and the
child replaces ``sys.stdin/stdout/stderr`` instead of using objects whose buffer lock
another thread may hold; but a C library's locks, and your own, are not reset.  asyncio's
default executor and uvloop's libuv thread pool are such threads (their threads simply
do not exist in the child; the child's own loop gets a new executor, and libuv resets
its pool at fork).  ``open_fork`` uses ``os.fork()`` either way; when the parent may
have busy threads, keep ``func`` simple or exec a program (``open_process``) instead.
Python 3.12 warns about fork with threads; 3.11 does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
import sys
from collections.abc import Callable, Generator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NoReturn

from ._children import Child, run_to_completion, watch_child
from ._fork_child import (
    _UNCATCHABLE,
    SETUP_FAILED_STATUS,
    _c_sigmask,
    _child_main,
    _Credentials,
    _decode_error,
    _ForkPlan,
    _open_fd_identities,
    _resolve_credentials,
)
from ._process import DEFAULT_GRACE, Process, _check_grace
from ._spawn import DEVNULL, PIPE, STDOUT, StdioArg
from ._streams import Stream

__all__ = ["ForkedProcess", "open_fork"]

#: Blocked around fork(): every signal but the uncatchable ones and synchronous faults
#: (blocking a fault that really happens kills the process).
#: Plain ints, for ``_c_sigmask``.
_BLOCK_AROUND_FORK = frozenset(
    int(signum)
    for signum in set(signal.valid_signals())
    - _UNCATCHABLE
    - {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE}
)


# --------------------------------------------------------------- the parent's side


def _flush_parent_stdio() -> None:
    """Flush sys.stdout and sys.stderr, so the child starts with nothing of ours buffered."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()


def _fork(child: Callable[[], NoReturn], mask_holder: list[set[int]]) -> int:
    """fork() with signals blocked and the collector off; the child runs ``child()``.

    ``mask_holder`` receives the signal mask from before the fork, for the child to put
    back once it has let go of the parent's handlers.

    Raises:
        OSError: fork() failed (EAGAIN: too many processes; ENOMEM).
    """
    _flush_parent_stdio()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    old_mask = _c_sigmask(signal.SIG_BLOCK, _BLOCK_AROUND_FORK)
    mask_holder.append(old_mask)
    try:
        pid = os.fork()
        if pid == 0:
            try:
                child()
            finally:
                os._exit(SETUP_FAILED_STATUS)
    finally:
        _c_sigmask(signal.SIG_SETMASK, old_mask)
        if gc_was_enabled:
            gc.enable()
    return pid


async def _read_until_eof(fd: int, chunks: list[bytes]) -> bytes:
    """Read a pipe until every writer has closed it, without blocking the loop.

    What was read is appended to ``chunks`` as it comes, so that a caller that is
    cancelled meanwhile still sees it.
    """
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    done: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        while not done.done():
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError as exc:
                done.set_exception(exc)
                return
            if not data:
                done.set_result(None)
                return
            chunks.append(data)

    loop.add_reader(fd, on_readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
    return b"".join(chunks)


def _fd_of(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an fd or a file, not {value!r}")
    if isinstance(value, int):
        fd = value
    else:
        fileno = getattr(value, "fileno", None)
        if fileno is None:
            raise TypeError(f"{name} must be None, PIPE, DEVNULL, an fd or a file, not {value!r}")
        fd = fileno()
    if fd < 0:
        raise ValueError(f"{name}={value!r} is not an fd")
    try:
        os.fstat(fd)
    except OSError as exc:
        raise ValueError(f"{name}={value!r}: fd {fd} is not open") from exc
    return fd


# -------------------------------------------------------------------- open_fork


def _fork_stdio(value: object, name: str) -> int | None:
    """Validate an open_fork stdio argument: None, PIPE, DEVNULL, STDOUT, an fd or a file."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value in (PIPE, DEVNULL):
        return value
    if value == STDOUT:
        if name != "stderr":
            raise ValueError(f"{name}=STDOUT makes no sense; STDOUT is for stderr")
        return STDOUT
    return _fd_of(value, name)


def _describe(func: Callable[..., object]) -> str:
    """How a forked child is named in messages: ``<fork of module.function>``."""
    name = getattr(func, "__qualname__", None) or type(func).__qualname__
    module = getattr(func, "__module__", None)
    return f"<fork of {module}.{name}>" if module else f"<fork of {name}>"


@dataclass(slots=True)
class _ForkRequest:
    """The checked arguments of one open_fork() call."""

    func: Callable[..., object]
    args: tuple[Any, ...]
    stdio: tuple[int | None, int | None, int | None]
    channel: bool
    credentials: _Credentials | None
    cwd: str | bytes | None
    new_session: bool
    pass_fds: tuple[int, ...]
    check: bool
    grace: float


@dataclass(slots=True)
class _Started:
    """A forked child that has set itself up, and the parent's ends of its channels."""

    child: Child
    stdin: int | None
    stdout: int | None
    stderr: int | None
    channel: socket.socket | None


async def _start_fork(request: _ForkRequest) -> _Started:
    """Fork, wait until the child has set itself up, and return the parent's ends.

    On any failure nothing is left: fds are closed and the child is stopped and reaped.
    """
    loop = asyncio.get_running_loop()
    child_ends: list[int] = []  # closed in the parent right after the fork
    parent_ends: list[int | None] = [None, None, None]
    parent_sock: socket.socket | None = None
    child_sock: socket.socket | None = None
    report_r = report_w = -1
    try:
        sources: list[int | None] = []
        for index, spec in enumerate(request.stdio):
            if spec != PIPE:
                sources.append(spec)
                continue
            read_end, write_end = os.pipe2(os.O_CLOEXEC)
            ours, theirs = (write_end, read_end) if index == 0 else (read_end, write_end)
            sources.append(theirs)
            child_ends.append(theirs)
            parent_ends[index] = ours
        if request.channel:
            parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        report_r, report_w = os.pipe2(os.O_CLOEXEC)
        mask: list[set[int]] = []
        plan = _ForkPlan(
            func=request.func,
            args=request.args,
            stdio=(sources[0], sources[1], sources[2]),
            channel=child_sock,
            report_fd=report_w,
            pass_fds=request.pass_fds,
            cwd=request.cwd,
            new_session=request.new_session,
            credentials=request.credentials,
            signal_mask=set(),
            inherited_fds=None,
            parent_sockets=(parent_sock,) if parent_sock is not None else (),
        )
        plan.inherited_fds = _open_fd_identities()

        def in_child() -> NoReturn:
            plan.signal_mask = mask[0]
            _child_main(plan)

        pid = _fork(in_child, mask)
    except BaseException:
        for fd in (*child_ends, *parent_ends, report_r, report_w):
            if fd is not None and fd >= 0:
                os.close(fd)
        for sock in (parent_sock, child_sock):
            if sock is not None:
                sock.close()
        raise
    # The parent closes the child's ends at once (perlipc: "Avoiding Pipe Deadlocks").
    for fd in (*child_ends, report_w):
        os.close(fd)
    if child_sock is not None:
        child_sock.close()

    def close_ours() -> None:
        for fd in (*parent_ends, report_r):
            if fd is not None and fd >= 0:
                os.close(fd)
        if parent_sock is not None:
            parent_sock.close()

    try:
        child = watch_child(pid, own_group=request.new_session, loop=loop)
    except BaseException:
        # No watcher (out of fds, say): kill and reap by hand, so no zombie is left.
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)  # noqa: ASYNC222 - SIGKILLed: it is gone at once
        close_ours()
        raise
    try:
        report = await _read_until_eof(report_r, [])
    except BaseException:
        close_ours()
        await run_to_completion(child.shutdown(request.grace))
        raise
    os.close(report_r)
    report_r = -1
    if report:
        # The child said why its setup failed, and is exiting by itself.
        close_ours()
        await run_to_completion(child.wait())
        raise _decode_error(report.splitlines()[0], "open_fork(): the child could not")
    return _Started(child, parent_ends[0], parent_ends[1], parent_ends[2], parent_sock)


class ForkedProcess(Process):
    """A forked child from :func:`open_fork`: an :class:`aioipc.Process`, plus ``channel``.

    Everything :class:`aioipc.Process` offers works the same way -- ``pid``, ``stdin``,
    ``stdout``, ``stderr``, ``wait()``, ``send_signal()``, ``terminate()``, ``kill()``,
    ``communicate()``, ``returncode``, ``status`` -- and ``argv`` names the child
    ``["<fork of module.function>"]`` in errors.  Leaving the ``async with`` block
    normally closes the channel, then the pipes (stdin first), and waits for the child;
    leaving it by an exception or a cancellation stops the child (SIGTERM, ``grace``
    seconds, SIGKILL), reaps it and closes everything, shielded from a second
    cancellation.

    Attributes:
        channel: the parent's end of the socketpair with ``channel=True``, else None.
    """

    channel: Stream | None = None

    async def aclose(self) -> None:
        """Close the channel and the pipes, and wait for the child to end (idempotent).

        Closing the channel and stdin is how the child learns there is no more input;
        a child still writing to a closed stdout or stderr gets ``EPIPE``
        (``BrokenPipeError`` in Python) instead of blocking forever on a full pipe.

        Raises:
            aioipc.ProcessError: opened with ``check=True`` and the child did not exit
                with status 0.
            ChildProcessError: someone else reaped the child.
        """
        if self.channel is not None:
            await self.channel.aclose()
        await super().aclose()

    async def __aenter__(self) -> ForkedProcess:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            if self.channel is not None:
                await run_to_completion(self.channel.aclose())

    def __repr__(self) -> str:
        return "<aioipc.ForkedProcess" + super().__repr__().removeprefix("<aioipc.Process")


async def _make_process(request: _ForkRequest, started: _Started) -> ForkedProcess:
    """Wrap the parent's ends in streams; on failure close them and stop the child."""
    child = started.child
    channel: Stream | None = None
    try:
        if started.channel is not None:
            channel = await Stream.from_socket(started.channel, child_pid=child.pid)
    except BaseException:
        for fd in (started.stdin, started.stdout, started.stderr):
            if fd is not None:
                os.close(fd)
        await run_to_completion(child.shutdown(request.grace))
        raise
    try:
        process = await ForkedProcess._from_fds(
            child,
            [_describe(request.func)],
            stdin_fd=started.stdin,
            stdout_fd=started.stdout,
            stderr_fd=started.stderr,
            check=request.check,
            grace=request.grace,
        )
    except BaseException:
        # _from_fds closed the fds and stopped the child.
        if channel is not None:
            await run_to_completion(channel.aclose())
        raise
    assert isinstance(process, ForkedProcess)
    process.channel = channel
    return process


class _OpenFork(AbstractAsyncContextManager[ForkedProcess]):
    """``async with open_fork(...) as kid``, or ``kid = await open_fork(...)``."""

    def __init__(self, request: _ForkRequest) -> None:
        self._request = request
        self._process: ForkedProcess | None = None

    async def _start(self) -> ForkedProcess:
        if self._process is not None:
            raise RuntimeError("an open_fork() call can be entered or awaited only once")
        started = await _start_fork(self._request)
        self._process = await _make_process(self._request, started)
        return self._process

    def __await__(self) -> Generator[Any, None, ForkedProcess]:
        return self._start().__await__()

    async def __aenter__(self) -> ForkedProcess:
        return await self._start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._process is not None
        await self._process.__aexit__(exc_type, exc, tb)


def open_fork(
    func: Callable[..., object],
    *args: Any,
    stdin: StdioArg = None,
    stdout: StdioArg = None,
    stderr: StdioArg = None,
    channel: bool = False,
    user: str | int | None = None,
    group: str | int | None = None,
    cwd: str | bytes | os.PathLike[str] | os.PathLike[bytes] | None = None,
    new_session: bool = False,
    pass_fds: Sequence[int] = (),
    check: bool = False,
    grace: float = DEFAULT_GRACE,
) -> _OpenFork:
    """Fork this program and run ``func(*args)`` in the child: perlipc's ``open(FH, "-|")``.

    ::

        def shout(channel: socket.socket) -> None:
            for line in channel.makefile("rb"):
                channel.sendall(line.upper())

        async with aioipc.open_fork(shout, channel=True) as child:
            await child.channel.send_line("hello")
            assert await child.channel.readline() == b"HELLO"

    Before ``func`` runs, the child lets go of everything of the parent's that it must
    not touch -- the event loop, its fds, the signal wakeup fd and handlers -- and closes
    every fd but its stdio, the channel and ``pass_fds`` (see ``docs/forks.md``).
    ``func`` may be a plain function or an ``async`` one (which runs in a fresh asyncio
    loop in the child).  What it returns becomes the child's exit status: None is 0, an
    int from 0 to 255 is that status; an exception prints its traceback on the child's
    stderr and exits 1 (``SystemExit`` behaves as it does in a program).  The child
    always ends with ``os._exit``: the parent's ``atexit`` handlers, ``finally`` blocks
    and buffered output never run in it.

    Entering the block (or awaiting the call) gives a :class:`ForkedProcess` -- an
    :class:`aioipc.Process` plus ``channel`` -- once the child has set itself up.
    Leaving it closes the parent's ends and waits for the child; leaving by an exception
    or cancellation sends SIGTERM, waits ``grace`` seconds, sends SIGKILL, and reaps --
    shielded from further cancellation.

    Args:
        func: what the child runs.  With ``channel=True`` its first argument is the
            child's end of the socketpair: a blocking :class:`socket.socket` for a plain
            function, an :class:`aioipc.Stream` for an ``async`` one.
        args: more arguments for ``func`` (no pickling: the child is a copy of us).
        stdin, stdout, stderr: None to share the parent's, ``PIPE`` for a pipe to the
            parent (a :class:`aioipc.Stream` on the process), ``DEVNULL``, an fd or an
            open file; ``stderr=STDOUT`` shares stdout.
        channel: a socketpair between parent (``process.channel``) and child.
        user, group: drop privileges in the child to this user (name or uid) and group
            (name or gid; by default the user's primary group, plus the user's
            supplementary groups), in the order setgroups, setgid, setuid, and verify.
        cwd: the directory the child changes to.
        new_session: start a new session (``setsid``): the child leads its own session
            and process group, and stopping it reaches the whole group.
        pass_fds: more fds to keep open in the child.
        check: when the block is left normally, raise :class:`aioipc.ProcessError` if
            the child did not exit with status 0.
        grace: seconds between SIGTERM and SIGKILL when the block is left by an error.

    Raises:
        TypeError: ``func`` is not callable, or a bad stdio, ``user`` or ``group`` type.
        ValueError: an unknown user or group, STDOUT for stdin or stdout, an fd that is
            not open, a negative ``grace``.
        PermissionError: (entering the block) the child could not drop privileges, or
            the drop did not take effect.
        FileNotFoundError, NotADirectoryError: (entering the block) ``cwd``.
        OSError: (entering the block) fork() failed (EAGAIN: too many processes).
        aioipc.ProcessError: (leaving the block) ``check=True`` and a failed child.

    The setup errors are raised after the child has exited and been reaped.
    """
    if not callable(func):
        raise TypeError(f"open_fork() needs a function to run in the child, not {func!r}")
    grace = _check_grace(grace)
    request = _ForkRequest(
        func=func,
        args=args,
        stdio=(
            _fork_stdio(stdin, "stdin"),
            _fork_stdio(stdout, "stdout"),
            _fork_stdio(stderr, "stderr"),
        ),
        channel=bool(channel),
        credentials=_resolve_credentials(user, group),
        cwd=os.fspath(cwd) if cwd is not None else None,
        new_session=bool(new_session),
        pass_fds=tuple(_fd_of(fd, "pass_fds") for fd in pass_fds),
        check=check,
        grace=grace,
    )
    return _OpenFork(request)
