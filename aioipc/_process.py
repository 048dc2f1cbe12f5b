"""Running one command: Process, CompletedProcess, open_process, run_process.

perlipc's "Using open() for IPC", "Safe Pipe Opens", "Avoiding Pipe Deadlocks" and
"Bidirectional Communication with Another Process", done the asyncio way.  How a
command is started is in :mod:`aioipc._spawn`; pipe opens and pipelines are in
:mod:`aioipc._pipes`.

Lifetimes
=========

Leaving a ``Process``, ``pipe_from``, ``pipe_to`` or ``Pipeline`` block normally
closes our pipe ends (stdin first, so the child sees EOF) and waits for the exit.
Leaving by an exception or a cancellation stops the child instead: SIGTERM, ``grace``
seconds, SIGKILL, reap -- shielded, so a second cancellation cannot leave a zombie.  A
child that leads its own process group (``start_new_session=True`` or
``process_group=0``) is stopped with its group.

After a child exits, reading its output goes on while data keeps coming, but once
nothing has arrived for ``EOF_GRACE`` seconds, ``communicate`` and ``run_process``
stop waiting for an EOF that a grandchild holding the pipe may never send
(cpython#119710).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Coroutine, Generator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

import anyio

from ._children import Child, ExitStatus, run_to_completion
from ._errors import STDERR_TAIL_BYTES, BrokenPipe, IPCTimeoutError, ProcessError
from ._signals import SignalLike
from ._spawn import PIPE, Command, StdioArg, _check_stdio, _Spec, _start, _Stdio
from ._streams import Stream

__all__ = [
    "DEFAULT_GRACE",
    "EOF_GRACE",
    "CompletedProcess",
    "Process",
    "open_process",
    "run_process",
]

#: Seconds between SIGTERM and SIGKILL when a child is stopped by an error,
#: cancellation or timeout.
DEFAULT_GRACE = 5.0
#: After the child exited, stop waiting for EOF on its output once no data came for
#: this many seconds (a grandchild may hold the pipe open forever).
EOF_GRACE = 1.0
#: How long a writer that met a broken pipe waits for the reader to exit, so that the
#: error can say how it ended.
_BROKEN_PIPE_WAIT = 1.0
#: communicate() feeds stdin in slices of this size (no 64 MiB copy in the transport).
_FEED_CHUNK = 256 * 1024
#: communicate() asks for up to this much per receive (the transport's chunks fit).
_COLLECT_CHUNK = 1024 * 1024

T = TypeVar("T")


# =============================================================================== streams


class _ChildStdin(Stream):
    """A child's stdin: a broken pipe is reported with the command and its status."""

    _aioipc_process: Process | None = None

    async def send(self, item: bytes) -> None:
        """Send all of ``item`` to the child (see :meth:`aioipc.Stream.send`).

        Raises:
            aioipc.BrokenPipe: the child closed its stdin or exited; the message names
                the command and how it ended (waiting briefly for it to end).
            anyio.ClosedResourceError, anyio.BusyResourceError, TypeError: as
                :meth:`aioipc.Stream.send`.
        """
        try:
            await super().send(item)
        except BrokenPipe as exc:
            process = self._aioipc_process
            if process is None or exc.argv is not None:
                raise
            raise await process._broken_pipe() from exc

    async def _send_raw(self, item: bytes | memoryview) -> None:
        await super().send(item)  # type: ignore[arg-type]


async def _make_streams(
    child: Child, stdio: _Stdio
) -> tuple[_ChildStdin | None, Stream | None, Stream | None]:
    """Wrap our pipe ends in streams; on failure close what is left and stop the child.

    The wrapping runs shielded from cancellation, so the child's streams come into
    being all together or not at all (the fd double close on uvloop that first called
    for this is now prevented inside the Stream constructors themselves).  A
    cancellation that arrives meanwhile is honoured once the streams exist: they are
    closed, the child is stopped and reaped.
    """
    task = asyncio.ensure_future(_create_streams(child, stdio))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if task.done() and task.cancelled():
            raise

        async def undo() -> None:
            try:
                streams = await task
            except BaseException:
                return  # _create_streams has cleaned up after itself
            await _stop_and_close(child, 0, streams)

        with contextlib.suppress(asyncio.CancelledError):
            await run_to_completion(undo())
        raise


async def _create_streams(
    child: Child, stdio: _Stdio
) -> tuple[_ChildStdin | None, Stream | None, Stream | None]:
    made: list[Stream] = []
    try:
        stdin = stdout = stderr = None
        fd = stdio.parent[0]
        if fd is not None:
            stdio.parent[0] = None
            stream = await _ChildStdin.from_pipe_fds(write_fd=fd, child_pid=child.pid)
            assert isinstance(stream, _ChildStdin)
            stdin = stream
            made.append(stream)
        fd = stdio.parent[1]
        if fd is not None:
            stdio.parent[1] = None
            stdout = await Stream.from_pipe_fds(read_fd=fd, child_pid=child.pid)
            made.append(stdout)
        fd = stdio.parent[2]
        if fd is not None:
            stdio.parent[2] = None
            stderr = await Stream.from_pipe_fds(read_fd=fd, child_pid=child.pid)
            made.append(stderr)
    except BaseException:
        stdio.close_all()

        with contextlib.suppress(asyncio.CancelledError):
            await run_to_completion(_stop_and_close(child, 0, made))
        raise
    return stdin, stdout, stderr


async def _stop_and_close(child: Child, grace: float, streams: Iterable[Stream | None]) -> None:
    """Stop the child (with its group: SIGTERM, ``grace`` s, SIGKILL), reap it, then
    close ``streams`` (see :func:`_close_bounded`).  A child someone else reaped is no
    error here."""
    with contextlib.suppress(ChildProcessError):
        await child.shutdown(grace)
    for stream in streams:
        await _close_bounded(stream)


async def _close_bounded(stream: Stream | None, seconds: float = EOF_GRACE) -> None:
    """Close a stream; if flushing it takes longer than ``seconds``, drop the rest.

    A cancelled ``aclose()`` aborts the channel (see :meth:`aioipc.Stream.aclose`);
    the second call then only waits for the transports to report the fds closed.
    """
    if stream is None:
        return
    try:
        async with asyncio.timeout(seconds):
            await stream.aclose()
    except TimeoutError:
        await stream.aclose()


# =============================================================================== results


class CompletedProcess(subprocess.CompletedProcess[bytes]):
    """What :func:`run_process` returns: a :class:`subprocess.CompletedProcess` plus more.

    Attributes:
        args: the command as a list of str.
        returncode: as :mod:`subprocess` reports it (negative for a signal).
        stdout, stderr: the captured output (``b""`` when not captured).
        status: the :class:`ExitStatus` (exit code or signal, core dump).
        pid: the process id the command ran as.
    """

    def __init__(
        self, args: list[str], status: ExitStatus, stdout: bytes, stderr: bytes, pid: int
    ) -> None:
        super().__init__(args, status.returncode, stdout, stderr)
        self.status = status
        self.pid = pid

    def check_returncode(self) -> None:
        """Raise :class:`aioipc.ProcessError` if the command did not exit with status 0.

        Raises:
            aioipc.ProcessError: with argv, pid, status, stdout and stderr.
        """
        if not self.status.success:
            raise ProcessError(
                self.args, self.returncode, pid=self.pid, stdout=self.stdout, stderr=self.stderr
            )


# =============================================================================== Process


class Process:
    """A running command (or forked child) with optional pipes to its stdio.

    Made by :func:`open_process` (and ``open_fork``).  Use it as an async context
    manager: leaving the block normally closes the pipes (stdin first, so the child
    sees EOF) and waits for the exit -- raising :class:`aioipc.ProcessError` if the
    process was opened with ``check=True`` and failed; leaving by an exception or a
    cancellation stops the child (SIGTERM, ``grace`` seconds, SIGKILL) and reaps it.

    Attributes:
        argv: the command, as a list of str.
        pid: the process id.
        stdin: a :class:`aioipc.Stream` to the child's stdin, or None when not piped.
        stdout: a stream from the child's stdout, or None.
        stderr: a stream from the child's stderr, or None.
    """

    def __init__(
        self,
        child: Child,
        argv: Sequence[str],
        *,
        stdin: Stream | None = None,
        stdout: Stream | None = None,
        stderr: Stream | None = None,
        check: bool = False,
        grace: float = DEFAULT_GRACE,
    ) -> None:
        """Processes are made by :func:`open_process` and ``open_fork``."""
        self.argv = list(argv)
        self.pid = child.pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self._child = child
        self._check = check
        self._grace = grace
        self._closed = False
        # We closed an output pipe while the child was still running: a SIGPIPE death
        # after that is our doing, not the command's failure.
        self._cut_output = False
        self._stdout_data: bytes | None = None
        self._stderr_data: bytes | None = None
        if isinstance(stdin, _ChildStdin):
            stdin._aioipc_process = self

    @classmethod
    async def _from_fds(
        cls,
        child: Child,
        argv: Sequence[str],
        *,
        stdin_fd: int | None = None,
        stdout_fd: int | None = None,
        stderr_fd: int | None = None,
        check: bool = False,
        grace: float = DEFAULT_GRACE,
    ) -> Process:
        """Build a Process over a watched child and our ends of its pipes (for _fork).

        The fds are owned from here on; on failure they are closed and the child is
        stopped and reaped.
        """
        stdio = _Stdio()
        stdio.parent = [stdin_fd, stdout_fd, stderr_fd]
        stdin, stdout, stderr = await _make_streams(child, stdio)
        return cls(
            child, argv, stdin=stdin, stdout=stdout, stderr=stderr, check=check, grace=grace
        )

    # ---------------------------------------------------------------- state

    @property
    def returncode(self) -> int | None:
        """The exit code, or minus the signal number; None while the process runs."""
        return self._child.returncode

    @property
    def status(self) -> ExitStatus | None:
        """The :class:`ExitStatus` once the process has ended, else None."""
        return self._child.status

    def __repr__(self) -> str:
        status = self._child.status
        state = "running" if status is None else str(status)
        return f"<aioipc.Process pid={self.pid} {self.argv!r} {state}>"

    # ---------------------------------------------------------------- control

    async def wait(self) -> ExitStatus:
        """Wait for the process to end and return its :class:`ExitStatus`.

        Does not close or read any pipe: a child blocked writing to a full stdout
        pipe that nobody reads never ends (use :meth:`communicate`).  Cancelling a
        ``wait()`` does not affect the process.

        Raises:
            ChildProcessError: someone else reaped the child; its status is lost.
        """
        return await self._child.wait()

    def send_signal(self, sig: SignalLike) -> bool:
        """Send ``sig`` (number or name) to the process; False if it had already exited.

        Goes through a pidfd, so a recycled pid is never hit; an exited process is not
        an error (nothing is sent).

        Raises:
            TypeError, ValueError: not a signal.
            PermissionError: not allowed to signal the process.
        """
        return self._child.send_signal(sig)

    def terminate(self) -> bool:
        """Send SIGTERM; False if the process had already exited."""
        return self._child.send_signal(signal.SIGTERM)

    def kill(self) -> bool:
        """Send SIGKILL; False if the process had already exited."""
        return self._child.send_signal(signal.SIGKILL)

    # ---------------------------------------------------------------- communicate

    async def communicate(
        self, input: bytes | None = None, *, timeout: float | None = None
    ) -> tuple[bytes, bytes]:
        """Send ``input``, close stdin, read stdout and stderr to the end, wait for exit.

        Writing and both reads run concurrently, so no amount of data either way can
        deadlock (perlipc's open2/open3 worry).  If the child stops reading, the rest
        of ``input`` is dropped (its exit status tells what happened).  Returns
        ``(stdout, stderr)``; a stream that is not piped gives ``b""``.  After the
        child exits, reading stops once no data has come for ``EOF_GRACE`` seconds,
        even without an EOF (a grandchild may hold the pipe open).

        With ``timeout``, the process (and its group, if it leads one) gets SIGTERM
        when time runs out, SIGKILL ``grace`` seconds later, and is reaped.

        Raises:
            ValueError: ``input`` given but stdin is not a pipe.
            aioipc.IPCTimeoutError: the timeout expired; ``partial`` holds the stdout
                read so far, and the message the tail of stderr.
            anyio.BusyResourceError: another task is reading or writing the pipes.
        """
        if input is not None and self.stdin is None:
            raise ValueError("communicate(input=...) needs the process opened with stdin=PIPE")
        _check_timeout(timeout)
        out, err = bytearray(), bytearray()
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                await self._exchange(input, out, err)
        except TimeoutError:
            if not deadline.expired():
                raise
            status = await self._child.shutdown(self._grace)
            await _drain([(s, b) for s, b in ((self.stdout, out), (self.stderr, err)) if s])
            self._stdout_data, self._stderr_data = bytes(out), bytes(err)
            message = (
                f"command {self.argv!r} (pid {self.pid}) did not finish within {timeout} s "
                f"and was stopped: {status}"
            )
            if err:
                tail = bytes(err[-STDERR_TAIL_BYTES:]).decode("utf-8", "replace").rstrip()
                message += f"; stderr ends with:\n{tail}"
            raise IPCTimeoutError(message, partial=bytes(out)) from None
        self._stdout_data, self._stderr_data = bytes(out), bytes(err)
        return bytes(out), bytes(err)

    async def _exchange(self, input: bytes | None, out: bytearray, err: bytearray) -> None:
        loop = asyncio.get_running_loop()
        tasks: list[asyncio.Task[None]] = []
        readers: list[tuple[asyncio.Task[None], bytearray]] = []
        try:
            if self.stdin is not None:
                tasks.append(loop.create_task(self._feed(self.stdin, input)))
            for stream, buffer in ((self.stdout, out), (self.stderr, err)):
                if stream is not None:
                    reader = loop.create_task(_collect(stream, buffer))
                    readers.append((reader, buffer))
                    tasks.append(reader)
            tasks.append(loop.create_task(self._eof_watchdog(readers)))
            await _run_all(tasks)
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)

    async def _feed(self, stdin: Stream, data: bytes | None) -> None:
        try:
            if data:
                view = memoryview(data)
                for start in range(0, len(view), _FEED_CHUNK):
                    chunk = view[start : start + _FEED_CHUNK]
                    if isinstance(stdin, _ChildStdin):
                        await stdin._send_raw(chunk)
                    else:
                        await stdin.send(bytes(chunk))
            await stdin.aclose()
        except (BrokenPipe, anyio.ClosedResourceError):
            # The child stopped reading (or exited): the rest of the input is dropped,
            # as subprocess.communicate() does; its exit status tells the story.
            await stdin.aclose()

    async def _eof_watchdog(self, readers: list[tuple[asyncio.Task[None], bytearray]]) -> None:
        with contextlib.suppress(ChildProcessError):
            await self._child.wait()
        await _bounded_readers(readers)

    # ---------------------------------------------------------------- errors

    async def _broken_pipe(self) -> BrokenPipe:
        """The child stopped reading its stdin: say who, and how it ended."""
        with contextlib.suppress(TimeoutError, ChildProcessError):
            async with asyncio.timeout(_BROKEN_PIPE_WAIT):
                await self._child.wait()
        status = self._child.status
        if status is None:
            how = "it closed its standard input and is still running"
        else:
            how = f"it {status}"
        return BrokenPipe(
            f"cannot write to command {self.argv!r} (pid {self.pid}): {how}",
            argv=self.argv,
            returncode=None if status is None else status.returncode,
        )

    def _failed(self, status: ExitStatus) -> bool:
        if status.success:
            return False
        return not (self._cut_output and status.signal == signal.SIGPIPE)

    def _error(self, status: ExitStatus) -> ProcessError:
        return ProcessError(
            self.argv,
            status.returncode,
            pid=self.pid,
            stdout=self._stdout_data,
            stderr=self._stderr_data,
        )

    # ---------------------------------------------------------------- closing

    async def _close_pipes(self) -> None:
        if self.stdin is not None:
            try:
                await self.stdin.aclose()
            except BaseException:
                await _close_bounded(self.stdin, 0)
                raise
        if (self.stdout is not None or self.stderr is not None) and self._child.status is None:
            self._cut_output = True
        for stream in (self.stdout, self.stderr):
            if stream is not None:
                await stream.aclose()

    async def _finish(self) -> ExitStatus:
        """Normal end: close the pipes (stdin first), wait for the exit."""
        self._closed = True
        try:
            await self._close_pipes()
            return await self._child.wait()
        except BaseException:
            await self._abort()
            raise

    async def _abort(self) -> None:
        """Error end: stop the child with its group, reap it, close everything."""
        self._closed = True
        await run_to_completion(
            _stop_and_close(self._child, self._grace, (self.stdin, self.stdout, self.stderr))
        )

    async def aclose(self) -> None:
        """Close the pipes and wait for the process to end (idempotent).

        Raises:
            aioipc.ProcessError: the process was opened with ``check=True`` and did not
                exit with status 0 (a SIGPIPE death caused by closing its unread output
                pipe does not count).
            ChildProcessError: someone else reaped the child.
        """
        if self._closed:
            status = await self._child.wait()
        else:
            status = await self._finish()
        if self._check and self._failed(status):
            raise self._error(status)

    async def __aenter__(self) -> Process:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.aclose()
        else:
            await self._abort()


async def _run_all(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Wait for every task; re-raise the first error.  A task cancelled by a sibling
    (a reader stopped by the EOF watchdog) is not an error."""
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in done:
        if not task.cancelled():
            error = task.exception()
            if error is not None:
                raise error


async def _collect(stream: Stream, buffer: bytearray) -> None:
    while True:
        try:
            buffer += await stream.receive(_COLLECT_CHUNK)
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return


async def _bounded_readers(readers: list[tuple[asyncio.Task[None], bytearray]]) -> None:
    """The child is gone: let readers run while data comes; stop them after EOF_GRACE idle."""
    pending = {task for task, _ in readers if not task.done()}
    while pending:
        sizes = [len(buffer) for _, buffer in readers]
        _, pending = await asyncio.wait(pending, timeout=EOF_GRACE)
        if pending and sizes == [len(buffer) for _, buffer in readers]:
            for task in pending:
                task.cancel()
            await asyncio.wait(pending)
            return


async def _drain(pairs: list[tuple[Stream, bytearray]]) -> None:
    """Read what is left in dead children's pipes, without waiting forever for EOF."""
    loop = asyncio.get_running_loop()
    readers = [(loop.create_task(_collect(stream, buffer)), buffer) for stream, buffer in pairs]
    try:
        await _bounded_readers(readers)
    finally:
        for task, _ in readers:
            task.cancel()
        if readers:
            await asyncio.wait([task for task, _ in readers])


# =============================================================================== openers


class _Opener(Generic[T]):
    """``await opener`` gives the object; ``async with opener as obj`` also closes it."""

    def __init__(self, start: Callable[[], Coroutine[Any, Any, T]]) -> None:
        self._start = start
        self._value: Any = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._start().__await__()

    async def __aenter__(self) -> T:
        if self._value is not None:
            raise RuntimeError("this opener has already been entered once")
        self._value = await self._start()
        return await self._value.__aenter__()  # type: ignore[no-any-return]

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._value.__aexit__(exc_type, exc, tb)


def _check_grace(grace: float) -> float:
    if isinstance(grace, bool) or not isinstance(grace, int | float) or grace < 0:
        raise ValueError(f"grace must be a number of seconds >= 0, not {grace!r}")
    return float(grace)


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0
    ):
        raise ValueError(f"timeout must be None or a number of seconds >= 0, not {timeout!r}")


def open_process(
    command: Command,
    *,
    stdin: StdioArg = None,
    stdout: StdioArg = None,
    stderr: StdioArg = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    shell: bool = False,
    start_new_session: bool = False,
    process_group: int | None = None,
    check: bool = False,
    grace: float = DEFAULT_GRACE,
) -> _Opener[Process]:
    """Start a command and return a :class:`Process` with pipes as asked (open2/open3).

    Use ``async with aioipc.open_process(argv, stdin=PIPE, stdout=PIPE) as proc:`` or
    ``proc = await aioipc.open_process(...)`` (then close it with ``aclose()``).

    Args:
        command: the argument list (``["cat", "-n"]``); ``argv[0]`` is looked up on
            ``env``'s PATH (relative to ``cwd`` if it contains a slash).  With
            ``shell=True``, one string for ``/bin/sh -c``.
        stdin, stdout, stderr: ``None`` (inherit ours), :data:`PIPE` (a stream on the
            Process), :data:`DEVNULL`, a file object or an fd; ``stderr`` may also be
            :data:`STDOUT`.
        cwd: the directory to run in.
        env: the environment (default: ours).
        shell: run ``command`` through ``/bin/sh -c``.
        start_new_session: run in a new session (``setsid``) and so a new process
            group, which is stopped as a whole on errors and timeouts.
        process_group: ``0`` for a new process group led by the child, or the id of an
            existing group to join.
        check: raise :class:`aioipc.ProcessError` when the block is left normally and
            the process did not exit with status 0.
        grace: seconds between SIGTERM and SIGKILL when the process is stopped.

    Raises:
        TypeError: ``command`` is a string without ``shell=True`` (the message says
            why that is refused), or a list with something else than str/bytes/paths.
        ValueError: an empty command, a bad stdio value, ``STDOUT`` for stdin/stdout,
            or bad ``grace``/``process_group``.
        FileNotFoundError: the program does not exist (the message names it and the
            PATH searched), or ``cwd`` does not.
        PermissionError: the program is not executable.
        OSError: the kernel refused the pipes or the process.
    """
    spec = _Spec(
        command,
        shell=shell,
        cwd=cwd,
        env=env,
        start_new_session=start_new_session,
        process_group=process_group,
        caller="open_process",
    )
    grace = _check_grace(grace)
    _check_stdio(stdin, stdout, stderr)

    async def start() -> Process:
        return await _open(spec, stdin, stdout, stderr, check=check, grace=grace)

    return _Opener(start)


async def _open(
    spec: _Spec,
    stdin: StdioArg,
    stdout: StdioArg,
    stderr: StdioArg,
    *,
    check: bool,
    grace: float,
) -> Process:
    stdio = _Stdio()
    try:
        stdio.set(0, stdin, "stdin")
        stdio.set(1, stdout, "stdout")
        stdio.set(2, stderr, "stderr")
    except BaseException:
        stdio.close_all()
        raise
    child = await _start(spec, stdio)
    streams = await _make_streams(child, stdio)
    stdin_stream, stdout_stream, stderr_stream = streams
    return Process(
        child,
        spec.argv,
        stdin=stdin_stream,
        stdout=stdout_stream,
        stderr=stderr_stream,
        check=check,
        grace=grace,
    )


async def run_process(
    command: Command,
    *,
    input: bytes | None = None,
    stdin: StdioArg = None,
    stdout: StdioArg = PIPE,
    stderr: StdioArg = PIPE,
    check: bool = True,
    timeout: float | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    shell: bool = False,
    start_new_session: bool = False,
    process_group: int | None = None,
    grace: float = DEFAULT_GRACE,
) -> CompletedProcess:
    """Run a command to completion and return its output: perlipc's backticks and ``system``.

    stdout and stderr are captured by default (pass ``None`` to let them through to
    ours).  ``input`` is written to the command's stdin, which is then closed.

    Args:
        command, cwd, env, shell, start_new_session, process_group, grace: as
            :func:`open_process`.
        input: bytes for the command's stdin (implies a pipe).
        stdin, stdout, stderr: as :func:`open_process`; ``stdin`` is exclusive with
            ``input``.
        check: raise :class:`aioipc.ProcessError` unless the exit status is 0.
        timeout: seconds; when they run out the command (and its group, when it has
            its own) gets SIGTERM, SIGKILL after ``grace`` seconds, and is reaped.

    Returns:
        A :class:`CompletedProcess` with ``returncode``, ``status``, ``stdout`` and
        ``stderr`` (``b""`` for what was not captured).

    Raises:
        aioipc.ProcessError: ``check`` and a non-zero status or a signal; it carries
            argv, pid, returncode, stdout and stderr (whose tail is in the message).
        aioipc.IPCTimeoutError: the timeout expired (a ``TimeoutError``); ``partial``
            holds the stdout captured so far.
        TypeError, ValueError, FileNotFoundError, PermissionError, OSError: as
            :func:`open_process`; ValueError also for ``input`` with ``stdin``.
    """
    if input is not None and stdin is not None:
        raise ValueError("run_process() takes input= or stdin=, not both")
    _check_timeout(timeout)
    if input is not None and not isinstance(input, bytes | bytearray | memoryview):
        raise TypeError(f"input must be bytes, not {type(input).__name__}")
    spec = _Spec(
        command,
        shell=shell,
        cwd=cwd,
        env=env,
        start_new_session=start_new_session,
        process_group=process_group,
        caller="run_process",
    )
    grace = _check_grace(grace)
    stdin = PIPE if input is not None else stdin
    _check_stdio(stdin, stdout, stderr)
    process = await _open(spec, stdin, stdout, stderr, check=False, grace=grace)
    async with process:
        out, err = await process.communicate(
            bytes(input) if input is not None else None, timeout=timeout
        )
    status = process.status
    assert status is not None
    result = CompletedProcess(process.argv, status, out, err, process.pid)
    if check:
        result.check_returncode()
    return result
