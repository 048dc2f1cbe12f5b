"""Running commands: run_process, open_process, pipe_from, pipe_to, open_pipeline.

perlipc's "Using open() for IPC", "Safe Pipe Opens", "Avoiding Pipe Deadlocks" and
"Bidirectional Communication with Another Process", done the asyncio way.

How a command is started
========================

aioipc starts exec'd children itself and hands each pid to its own child watcher
(:mod:`aioipc._children`) before yielding to the loop.  It never goes through
``subprocess.Popen`` or the loop's ``subprocess_exec``: those reap behind the watcher's
back (Popen turns the resulting ECHILD into a returncode of 0), and uvloop's refuses
some arguments (uvloop#618).

* ``os.posix_spawn`` is the default.  No Python runs in the child (glibc uses
  ``clone(CLONE_VM|CLONE_VFORK)``), it is the fastest way to start a program from a big
  process, and exec failures come back as an ``OSError`` from the call itself.  Its
  attributes give the child an empty signal mask and SIG_DFL for SIGPIPE and SIGXFSZ
  (CPython ignores both at start-up, and SIG_IGN survives exec: a ``yes | head`` built
  from Python children would otherwise never end), and make the new process group or
  session where asked.
* ``fork`` + ``exec`` is used only for what Python 3.11's ``posix_spawn`` cannot do:
  ``cwd=`` (glibc's ``posix_spawn_file_actions_addchdir_np`` is not exposed before
  Python 3.13's ``POSIX_SPAWN_CHDIR``... which does not exist either).  The child runs
  a few ``os`` calls only: signals stay blocked from before the fork until the wakeup
  fd is let go and every caught signal is back to its default (a signal arriving in
  between would otherwise write into the *parent's* wakeup socket), then ``dup2``,
  ``setsid``/``setpgid``, ``chdir``, an empty signal mask and ``execve``.  A failure is
  written to a close-on-exec pipe, so the parent raises it (``FileNotFoundError`` for a
  missing directory, say) instead of seeing exit status 127.  The parent blocks
  reading that pipe until the exec, as ``subprocess`` does: microseconds.

Every fd aioipc creates is close-on-exec (``pipe2(O_CLOEXEC)``, pidfds are always), so
a second child never inherits the first child's pipe ends, and the parent closes the
child's ends right after the spawn (perlipc: "Avoiding Pipe Deadlocks").

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
import errno
import fcntl
import os
import signal
import stat
import subprocess
from collections.abc import Callable, Coroutine, Generator, Mapping, Sequence
from types import TracebackType
from typing import IO, Any, Generic, Protocol, TypeAlias, TypeVar

import anyio

from ._children import Child, ExitStatus, run_to_completion, watch_child
from ._errors import STDERR_TAIL_BYTES, BrokenPipe, IPCTimeoutError, PipelineError, ProcessError
from ._signals import SignalLike
from ._streams import Stream

__all__ = [
    "DEFAULT_GRACE",
    "DEVNULL",
    "EOF_GRACE",
    "PIPE",
    "STDOUT",
    "Command",
    "CompletedProcess",
    "Pipeline",
    "Process",
    "StdioArg",
    "open_pipeline",
    "open_process",
    "pipe_from",
    "pipe_to",
    "run_process",
]

#: Make a pipe to or from the child (the same value as :data:`subprocess.PIPE`).
PIPE = subprocess.PIPE
#: Connect the child's stream to ``/dev/null`` (:data:`subprocess.DEVNULL`).
DEVNULL = subprocess.DEVNULL
#: For ``stderr``: send it where stdout goes (:data:`subprocess.STDOUT`).
STDOUT = subprocess.STDOUT

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


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


#: What ``stdin=``, ``stdout=`` and ``stderr=`` accept.
StdioArg: TypeAlias = int | _HasFileno | IO[Any] | None
#: A command: an argument list, or (with ``shell=True``) one string.
Command: TypeAlias = str | bytes | Sequence[str | bytes | os.PathLike[str] | os.PathLike[bytes]]

# Signals that CPython itself sets to SIG_IGN at start-up; an exec'd child gets SIG_DFL.
_RESTORED_SIGNALS = tuple(
    s for s in (getattr(signal, "SIGPIPE", None), getattr(signal, "SIGXFSZ", None)) if s
)
_ALL_SIGNALS = frozenset(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}


# =============================================================================== spec


class _Spec:
    """A checked command, ready to start: what to exec, and how to name it in errors."""

    __slots__ = (
        "args",
        "argv",
        "cwd",
        "env",
        "executable",
        "own_group",
        "process_group",
        "start_new_session",
    )

    def __init__(
        self,
        command: Command,
        *,
        shell: bool,
        cwd: str | os.PathLike[str] | None,
        env: Mapping[str, str] | None,
        start_new_session: bool,
        process_group: int | None,
        caller: str,
    ) -> None:
        self.args: list[str | bytes] = _command_args(command, shell=shell, caller=caller)
        #: The command as text, for messages and ProcessError.argv.
        self.argv: list[str] = [os.fsdecode(a) for a in self.args]
        self.cwd = os.fspath(cwd) if cwd is not None else None
        if env is not None and not isinstance(env, Mapping):
            raise TypeError(f"env must be a mapping of str to str, not {env!r}")
        self.env: Mapping[str, str] = os.environ if env is None else dict(env)
        if process_group is not None and (
            isinstance(process_group, bool)
            or not isinstance(process_group, int)
            or process_group < 0
        ):
            raise ValueError(
                f"process_group must be 0 (a new group) or an existing group id, "
                f"not {process_group!r}"
            )
        if start_new_session and process_group is not None:
            raise ValueError(
                "start_new_session=True already makes a new process group; "
                "do not pass process_group as well"
            )
        self.start_new_session = bool(start_new_session)
        self.process_group = process_group
        self.own_group = self.start_new_session or process_group == 0
        self.executable = b""

    def resolve(self) -> None:
        """Find the executable now, so a missing one fails before anything starts.

        Raises:
            FileNotFoundError: no such program (on ``PATH``, or at the given path).
            PermissionError: it exists but is not executable.
            NotADirectoryError, FileNotFoundError: ``cwd`` is not a directory.
        """
        if self.cwd is not None and not os.path.isdir(self.cwd):
            code = errno.ENOTDIR if os.path.exists(self.cwd) else errno.ENOENT
            raise OSError(
                code,
                f"cannot run {self.argv!r}: cwd {self.cwd!r} is not a directory",
                self.cwd,
            )
        self.executable = _find_executable(self.args[0], self.argv, self.env, self.cwd)


def _command_args(command: Command, *, shell: bool, caller: str) -> list[str | bytes]:
    if shell:
        if not isinstance(command, str | bytes):
            raise TypeError(
                f"{caller}(shell=True) takes the command as one string for /bin/sh -c, "
                f"not {type(command).__name__}"
            )
        return ["/bin/sh", "-c", command]
    if isinstance(command, str | bytes):
        raise TypeError(
            f"{caller}() got the command as one string, {command!r}: pass a list of "
            f"arguments instead, such as {_suggest(command)}.  Splitting a string into "
            "arguments is a shell's job, and a shell also expands $variables, globs, "
            "quotes and ';' in it -- pass shell=True only if that is what you want"
        )
    try:
        args = [os.fspath(a) for a in command]
    except TypeError:
        raise TypeError(
            f"{caller}() takes the command as a list of str, bytes or path objects, "
            f"not {command!r}"
        ) from None
    if not args:
        raise ValueError(f"{caller}() got an empty command: which program should it run?")
    for arg in args:
        if "\0" in (arg if isinstance(arg, str) else arg.decode("latin-1")):
            raise ValueError(f"{caller}(): argument {arg!r} contains a NUL byte")
    return args


def _suggest(command: str | bytes) -> str:
    text = os.fsdecode(command)
    return repr(text.split()) if text.split() else "['program', 'arg']"


def _find_executable(
    name: str | bytes, argv: list[str], env: Mapping[str, str], cwd: str | None
) -> bytes:
    """Where ``execve`` will find ``name``, as ``execvpe`` with ``env``'s PATH would.

    Raises:
        FileNotFoundError: no such program.
        PermissionError: found, but not executable.
    """
    raw = os.fsencode(name)
    if b"/" in raw:
        path = raw
        if cwd is not None and not os.path.isabs(raw):
            path = os.path.join(os.fsencode(cwd), raw)
        if not os.path.exists(path):
            raise FileNotFoundError(
                errno.ENOENT, f"cannot run {argv!r}: no such file {os.fsdecode(path)!r}", path
            )
        if os.path.isdir(path) or not os.access(path, os.X_OK):
            raise PermissionError(
                errno.EACCES,
                f"cannot run {argv!r}: {os.fsdecode(path)!r} is not an executable file",
                path,
            )
        return raw  # a relative path is exec'd after the chdir, as given
    search = os.get_exec_path(env)
    denied: bytes | None = None
    for directory in search:
        candidate = os.path.join(os.fsencode(directory), raw)
        try:
            mode = os.stat(candidate).st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode):
            if os.access(candidate, os.X_OK):
                return candidate
            denied = denied or candidate
    if denied is not None:
        raise PermissionError(
            errno.EACCES,
            f"cannot run {argv!r}: {os.fsdecode(denied)!r} is not executable",
            denied,
        )
    raise FileNotFoundError(
        errno.ENOENT,
        f"cannot run {argv!r}: no program {os.fsdecode(raw)!r} on PATH "
        f"({os.pathsep.join(search)})",
        os.fsdecode(raw),
    )


# =============================================================================== stdio


class _Stdio:
    """The three standard fds of one child: what the child gets, what we keep."""

    def __init__(self) -> None:
        #: For fds 0, 1, 2: the fd to dup2 there, STDOUT (stderr only), or None.
        self.child: list[int | None] = [None, None, None]
        #: Our ends of the pipes, by the child's fd number.
        self.parent: list[int | None] = [None, None, None]
        #: Fds to close in the parent as soon as the child has started.
        self.after_spawn: list[int] = []

    def close_child_ends(self) -> None:
        fds, self.after_spawn = self.after_spawn, []
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def close_all(self) -> None:
        self.close_child_ends()
        for index, fd in enumerate(self.parent):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                self.parent[index] = None

    def set(self, target: int, value: StdioArg, name: str) -> None:
        """Plan ``value`` for the child's fd ``target`` (0, 1 or 2)."""
        if value is None:
            return
        if not isinstance(value, int) or isinstance(value, bool):
            self.child[target] = self._user_fd(value, name)
            return
        if value == PIPE:
            read_fd, write_fd = _pipe()
            if target == 0:
                self.child[0], self.parent[0] = read_fd, write_fd
                self.after_spawn.append(read_fd)
            else:
                self.child[target], self.parent[target] = write_fd, read_fd
                self.after_spawn.append(write_fd)
            return
        if value == DEVNULL:
            flags = (os.O_RDONLY if target == 0 else os.O_WRONLY) | os.O_CLOEXEC
            fd = _dup_high(os.open(os.devnull, flags), close=True)
            self.after_spawn.append(fd)
            self.child[target] = fd
            return
        if value == STDOUT:
            if target != 2:
                raise ValueError(f"{name}=STDOUT only makes sense for stderr")
            self.child[2] = STDOUT
            return
        self.child[target] = self._user_fd(value, name)

    def _user_fd(self, value: int | _HasFileno | IO[Any], name: str) -> int:
        fd = value if isinstance(value, int) else value.fileno()
        if fd < 0:
            raise ValueError(f"{name} must be PIPE, DEVNULL, a file or an fd >= 0, not {fd}")
        if fd < 3:
            # dup2 runs in order: an fd among 0..2 could be overwritten before it is
            # copied, and dup2(fd, fd) would leave close-on-exec set.  Use a copy >= 3.
            copy = _dup_high(fd)
            self.after_spawn.append(copy)
            return copy
        return fd


def _pipe() -> tuple[int, int]:
    """A close-on-exec pipe whose fds are both >= 3 (clear of the stdio slots)."""
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    if read_fd >= 3 and write_fd >= 3:
        return read_fd, write_fd
    try:
        return _dup_high(read_fd, close=True), _dup_high(write_fd, close=True)
    except BaseException:
        for fd in (read_fd, write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        raise


def _dup_high(fd: int, *, close: bool = False) -> int:
    """A close-on-exec copy of ``fd`` numbered 3 or above (``fd`` itself if ``close``
    and it already is)."""
    if fd >= 3 and close:
        return fd
    try:
        copy = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    finally:
        if close:
            os.close(fd)
    return copy


def _file_actions(stdio: _Stdio) -> list[tuple[Any, ...]]:
    actions: list[tuple[Any, ...]] = []
    for target in (0, 1, 2):
        source = stdio.child[target]
        if source is None:
            continue
        if source == STDOUT:
            actions.append((os.POSIX_SPAWN_DUP2, 1, 2))
        else:
            actions.append((os.POSIX_SPAWN_DUP2, source, target))
    return actions


# =============================================================================== spawning


def _spawn(spec: _Spec, stdio: _Stdio) -> int:
    """Start the child; return its pid.  The caller must watch it at once.

    Raises:
        OSError: the exec failed (the message names the command).
    """
    if spec.cwd is None:
        actions = _file_actions(stdio)
        try:
            if spec.process_group is not None:
                return os.posix_spawn(
                    spec.executable,
                    spec.args,
                    spec.env,
                    file_actions=actions,
                    setpgroup=spec.process_group,
                    setsigmask=(),
                    setsigdef=_RESTORED_SIGNALS,
                )
            return os.posix_spawn(
                spec.executable,
                spec.args,
                spec.env,
                file_actions=actions,
                setsid=spec.start_new_session,
                setsigmask=(),
                setsigdef=_RESTORED_SIGNALS,
            )
        except OSError as exc:
            raise _exec_error(exc.errno or errno.EIO, spec, "exec", exc.filename) from None
    return _fork_exec(spec, stdio)


def _exec_error(code: int, spec: _Spec, step: str, filename: object = None) -> OSError:
    reason = os.strerror(code)
    if step == "chdir":
        text = f"cannot run {spec.argv!r}: cannot change directory to {spec.cwd!r}: {reason}"
    else:
        text = f"cannot run {spec.argv!r}: {reason}"
    return OSError(code, text, filename if filename is not None else spec.executable)


def _fork_exec(spec: _Spec, stdio: _Stdio) -> int:
    """fork + exec, for what posix_spawn cannot do (cwd)."""
    caught = [
        int(s) for s in _ALL_SIGNALS if callable(signal.getsignal(s)) or s in _RESTORED_SIGNALS
    ]
    env = {os.fsencode(k): os.fsencode(v) for k, v in spec.env.items()}
    err_read, err_write = os.pipe2(os.O_CLOEXEC)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _ALL_SIGNALS)
    pid = -1
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, which always execs or exits
            _exec_in_child(spec, stdio, env, caught, err_write)
    except BaseException:
        if pid != 0:  # fork() itself failed (EAGAIN, ENOMEM)
            os.close(err_read)
            os.close(err_write)
        raise
    finally:
        if pid != 0:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    os.close(err_write)
    try:
        report = b""
        while chunk := os.read(err_read, 512):
            report += chunk
    finally:
        os.close(err_read)
    if report:
        os.waitpid(pid, 0)  # it exited at once after writing; reap it here
        step, _, code = report.decode("ascii", "replace").partition(":")
        raise _exec_error(
            int(code or errno.EIO), spec, step, spec.cwd if step == "chdir" else None
        )
    return pid


def _exec_in_child(  # pragma: no cover - runs in the forked child only
    spec: _Spec,
    stdio: _Stdio,
    env: dict[bytes, bytes],
    caught: list[int],
    err_write: int,
) -> None:
    step = "setup"
    try:
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(-1)
        for signum in caught:
            signal.signal(signum, signal.SIG_DFL)
        if spec.start_new_session:
            step = "setsid"
            os.setsid()
        elif spec.process_group is not None:
            step = "setpgid"
            os.setpgid(0, spec.process_group)
        step = "dup2"
        for target in (0, 1, 2):
            source = stdio.child[target]
            if source == STDOUT:
                os.dup2(1, 2)
            elif source is not None:
                os.dup2(source, target)
        step = "chdir"
        assert spec.cwd is not None
        os.chdir(spec.cwd)
        step = "exec"
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        os.execve(spec.executable, spec.args, env)
    except OSError as exc:
        with contextlib.suppress(BaseException):
            os.write(err_write, f"{step}:{exc.errno or errno.EIO}".encode())
    except BaseException:
        with contextlib.suppress(BaseException):
            os.write(err_write, f"{step}:{errno.EIO}".encode())
    finally:
        os._exit(127)


async def _start(spec: _Spec, stdio: _Stdio) -> Child:
    """Spawn and watch; close the child's ends; on failure close everything."""
    try:
        spec.resolve()
        pid = _spawn(spec, stdio)
    except BaseException:
        stdio.close_all()
        raise
    stdio.close_child_ends()
    try:
        return watch_child(pid, own_group=spec.own_group)
    except BaseException:
        stdio.close_all()
        with contextlib.suppress(ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)  # noqa: ASYNC222 - SIGKILLed: reaped at once
        raise


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

    The wrapping runs shielded from cancellation: uvloop's ``connect_read_pipe``, when
    cancelled, closes the fd that ``Stream.from_pipe_fds`` then closes again (EBADF, or
    worse, someone else's fd by then).  A cancellation that arrives meanwhile is
    honoured once the streams exist: they are closed, the child is stopped and reaped.
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
            with contextlib.suppress(ChildProcessError):
                await child.shutdown(0)
            for stream in streams:
                await _close_bounded(stream)

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

        async def cleanup() -> None:
            with contextlib.suppress(ChildProcessError):
                await child.shutdown(0)
            for stream in made:
                await _close_bounded(stream)

        with contextlib.suppress(asyncio.CancelledError):
            await run_to_completion(cleanup())
        raise
    return stdin, stdout, stderr


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

        async def stop() -> None:
            with contextlib.suppress(ChildProcessError):
                await self._child.shutdown(self._grace)
            for stream in (self.stdin, self.stdout, self.stderr):
                await _close_bounded(stream)

        await run_to_completion(stop())

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


def _check_stdio(stdin: StdioArg, stdout: StdioArg, stderr: StdioArg) -> None:
    for name, value in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr)):
        if value is None or (hasattr(value, "fileno") and not isinstance(value, int)):
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be PIPE, DEVNULL, a file or an fd, not {value!r}")
        if value == STDOUT and name != "stderr":
            raise ValueError(f"{name}=STDOUT only makes sense for stderr")
        if value < 0 and value not in (PIPE, DEVNULL, STDOUT):
            raise ValueError(f"{name} must be PIPE, DEVNULL, a file or an fd >= 0, not {value}")


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


# =============================================================================== pipe opens


class _PipeOpen:
    """The context manager behind :func:`pipe_from` and :func:`pipe_to`."""

    def __init__(
        self,
        spec: _Spec,
        direction: str,
        other: StdioArg,
        stderr: StdioArg,
        check: bool,
        grace: float,
    ) -> None:
        self._spec = spec
        self._direction = direction
        self._other = other
        self._stderr = stderr
        self._check = check
        self._grace = grace
        self._process: Process | None = None

    async def __aenter__(self) -> Stream:
        if self._process is not None:
            raise RuntimeError("a pipe_from()/pipe_to() can be entered only once")
        if self._direction == "from":
            process = await _open(
                self._spec, self._other, PIPE, self._stderr, check=False, grace=self._grace
            )
            stream = process.stdout
        else:
            process = await _open(
                self._spec, PIPE, self._other, self._stderr, check=False, grace=self._grace
            )
            stream = process.stdin
        self._process = process
        assert stream is not None
        return stream

    @property
    def process(self) -> Process:
        """The :class:`Process` behind the stream (after the block was entered)."""
        if self._process is None:
            raise RuntimeError("the command has not been started yet: enter the block first")
        return self._process

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process = self._process
        assert process is not None
        if exc is not None:
            await process._abort()
            return
        status = await process._finish()
        if self._check and process._failed(status):
            raise process._error(status)


def pipe_from(
    command: Command,
    *,
    stdin: StdioArg = None,
    stderr: StdioArg = None,
    check: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    shell: bool = False,
    start_new_session: bool = False,
    process_group: int | None = None,
    grace: float = DEFAULT_GRACE,
) -> _PipeOpen:
    """Read a command's output: perlipc's ``open(FH, "-|", "cmd", @args)``.

    ``async with aioipc.pipe_from(["ps", "-e"]) as out:`` gives a :class:`aioipc.Stream`
    on the command's stdout (``async for line in out.lines()``).  Leaving the block
    closes the stream and waits for the command, then checks its exit status, as
    Perl's ``close`` does.  Leaving the block before the end of the output is fine: a
    command killed by SIGPIPE because we stopped reading is not an error.

    Args:
        command, cwd, env, shell, start_new_session, process_group, grace: as
            :func:`open_process`.
        stdin, stderr: the command's other streams: None (ours), DEVNULL, a file or
            an fd (to pipe them too, use :func:`open_process`).
        check: raise :class:`aioipc.ProcessError` when the command fails.

    Raises:
        aioipc.ProcessError: (leaving the block) ``check`` and a non-zero status.
        TypeError, ValueError: as :func:`open_process` (raised by this call);
            ValueError also for ``stderr=PIPE``.
        FileNotFoundError, PermissionError: (entering the block) as
            :func:`open_process`.
    """
    spec = _Spec(
        command,
        shell=shell,
        cwd=cwd,
        env=env,
        start_new_session=start_new_session,
        process_group=process_group,
        caller="pipe_from",
    )
    _check_stdio(stdin, None, stderr)
    if stdin == PIPE or stderr == PIPE:
        raise ValueError(
            "pipe_from() pipes stdout only; use open_process() to pipe stdin or stderr too"
        )
    return _PipeOpen(spec, "from", stdin, stderr, check, _check_grace(grace))


def pipe_to(
    command: Command,
    *,
    stdout: StdioArg = None,
    stderr: StdioArg = None,
    check: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    shell: bool = False,
    start_new_session: bool = False,
    process_group: int | None = None,
    grace: float = DEFAULT_GRACE,
) -> _PipeOpen:
    """Write to a command's input: perlipc's ``open(FH, "|-", "cmd", @args)``.

    ``async with aioipc.pipe_to(["lpr"]) as inp:`` gives a :class:`aioipc.Stream` on
    the command's stdin.  Leaving the block closes it (the command sees EOF), waits
    for the command and checks its exit status.  Writing to a command that has died
    or closed its input raises :class:`aioipc.BrokenPipe` naming the command and how
    it ended -- perlipc's ``|bogus`` case, without a SIGPIPE.

    Args:
        command, cwd, env, shell, start_new_session, process_group, grace: as
            :func:`open_process`.
        stdout, stderr: where the command's output goes (default: ours).
        check: raise :class:`aioipc.ProcessError` when the command fails.

    Raises:
        aioipc.BrokenPipe: (from ``send``) the command is not reading any more.
        aioipc.ProcessError: (leaving the block) ``check`` and a non-zero status.
        TypeError, ValueError: as :func:`open_process` (raised by this call).
        FileNotFoundError, PermissionError: (entering the block) as
            :func:`open_process`.
    """
    spec = _Spec(
        command,
        shell=shell,
        cwd=cwd,
        env=env,
        start_new_session=start_new_session,
        process_group=process_group,
        caller="pipe_to",
    )
    _check_stdio(None, stdout, stderr)
    if stdout == PIPE or stderr == PIPE:
        raise ValueError(
            "pipe_to() pipes stdin only; use open_process() to pipe stdout or stderr too"
        )
    return _PipeOpen(spec, "to", stdout, stderr, check, _check_grace(grace))


# =============================================================================== pipelines


class Pipeline:
    """Commands joined stdout-to-stdin by kernel pipes, from :func:`open_pipeline`.

    The bytes between stages never pass through Python.  ``stdin`` is the first
    stage's input and ``stdout`` the last stage's output, when piped.  Leaving the
    block normally closes them and waits for every stage, then (with ``check``)
    raises :class:`aioipc.PipelineError` naming each failed stage; leaving by an error
    or a cancellation stops and reaps every stage.

    Attributes:
        processes: one :class:`Process` per stage, in order.
        stdin: a stream to the first stage's stdin, or None.
        stdout: a stream from the last stage's stdout, or None.
    """

    def __init__(self, processes: Sequence[Process], *, check: bool) -> None:
        """Pipelines are made by :func:`open_pipeline`."""
        self.processes = tuple(processes)
        self.stdin = self.processes[0].stdin
        self.stdout = self.processes[-1].stdout
        self._check = check
        self._closed = False

    @property
    def returncodes(self) -> list[int | None]:
        """Each stage's returncode (None while it runs)."""
        return [p.returncode for p in self.processes]

    def __repr__(self) -> str:
        stages = " | ".join(" ".join(p.argv) for p in self.processes)
        return f"<aioipc.Pipeline {stages!r} returncodes={self.returncodes}>"

    async def wait(self) -> list[ExitStatus]:
        """Wait for every stage to end; return their statuses in stage order.

        Raises:
            ChildProcessError: someone else reaped a stage.
        """
        return list(await asyncio.gather(*(p.wait() for p in self.processes)))

    def send_signal(self, sig: SignalLike) -> list[bool]:
        """Send ``sig`` to every stage; for each, False if it had already exited.

        Raises:
            TypeError, ValueError: not a signal.
            PermissionError: not allowed to signal a stage.
        """
        return [p.send_signal(sig) for p in self.processes]

    def terminate(self) -> list[bool]:
        """Send SIGTERM to every stage (see :meth:`send_signal`)."""
        return self.send_signal(signal.SIGTERM)

    def kill(self) -> list[bool]:
        """Send SIGKILL to every stage (see :meth:`send_signal`)."""
        return self.send_signal(signal.SIGKILL)

    async def communicate(
        self, input: bytes | None = None, *, timeout: float | None = None
    ) -> bytes:
        """Feed ``input`` to the first stage, read the last stage's output, wait for all.

        Raises:
            ValueError: ``input`` given but the pipeline's stdin is not a pipe.
            aioipc.IPCTimeoutError: the timeout expired: every stage was stopped and
                reaped; ``partial`` holds the output read so far.
        """
        first, last = self.processes[0], self.processes[-1]
        if input is not None and first.stdin is None:
            raise ValueError("communicate(input=...) needs open_pipeline(..., stdin=PIPE)")
        _check_timeout(timeout)
        out = bytearray()
        deadline = asyncio.timeout(timeout)
        loop = asyncio.get_running_loop()
        tasks: list[asyncio.Task[Any]] = []
        try:
            async with deadline:
                if first.stdin is not None:
                    tasks.append(loop.create_task(first._feed(first.stdin, input)))
                if last.stdout is not None:
                    reader = loop.create_task(_collect(last.stdout, out))
                    tasks.append(reader)
                    tasks.append(loop.create_task(last._eof_watchdog([(reader, out)])))
                tasks.append(loop.create_task(self.wait()))
                await _run_all(tasks)
        except TimeoutError:
            if not deadline.expired():
                raise
            statuses = await self._stop_all()
            if last.stdout is not None:
                await _drain([(last.stdout, out)])
            stages = "; ".join(
                f"{p.argv!r} {s}" for p, s in zip(self.processes, statuses, strict=True)
            )
            raise IPCTimeoutError(
                f"pipeline did not finish within {timeout} s and was stopped: {stages}",
                partial=bytes(out),
            ) from None
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)
        last._stdout_data = bytes(out)
        return bytes(out)

    async def _stop_all(self) -> list[ExitStatus]:
        async def stop(process: Process) -> ExitStatus:
            try:
                return await process._child.shutdown(process._grace)
            except ChildProcessError:
                return ExitStatus(code=255)

        return list(await run_to_completion(_gather(*(stop(p) for p in self.processes))))

    def _failures(self, statuses: list[ExitStatus]) -> list[tuple[int, list[str], int, int]]:
        failures = []
        for index, (process, status) in enumerate(zip(self.processes, statuses, strict=True)):
            if status.success:
                continue
            if status.signal == signal.SIGPIPE and (
                process._cut_output or any(s.success for s in statuses[index + 1 :])
            ):
                # Told that nobody reads any more (yes | head -1): not a failure.
                continue
            failures.append((index + 1, process.argv, status.returncode, process.pid))
        return failures

    async def aclose(self) -> None:
        """Close the pipeline's pipes and wait for every stage (idempotent).

        Raises:
            aioipc.PipelineError: opened with ``check=True`` and a stage failed (a
                stage killed by SIGPIPE because a later stage or we stopped reading
                does not count).
        """
        if not self._closed:
            self._closed = True
            try:
                first, last = self.processes[0], self.processes[-1]
                if first.stdin is not None:
                    await first.stdin.aclose()
                if last.stdout is not None:
                    if last.status is None:
                        last._cut_output = True
                    await last.stdout.aclose()
            except BaseException:
                await self._abort()
                raise
        statuses = await self.wait()
        if self._check:
            failures = self._failures(statuses)
            if failures:
                raise PipelineError(
                    failures, length=len(self.processes), stdout=self.processes[-1]._stdout_data
                )

    async def _abort(self) -> None:
        self._closed = True

        async def stop() -> None:
            await self._stop_all()
            for process in self.processes:
                for stream in (process.stdin, process.stdout, process.stderr):
                    await _close_bounded(stream)

        await run_to_completion(stop())

    async def __aenter__(self) -> Pipeline:
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


async def _gather(*coros: Coroutine[Any, Any, T]) -> list[T]:
    return list(await asyncio.gather(*coros))


def open_pipeline(
    *commands: Command,
    stdin: StdioArg = None,
    stdout: StdioArg = None,
    stderr: StdioArg = None,
    check: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    grace: float = DEFAULT_GRACE,
) -> _Opener[Pipeline]:
    """Run commands joined by pipes, like the shell's ``a | b | c`` without a shell.

    perlipc's spooler ``open(SPOOLER, "| cat -v | lpr -h")`` is::

        async with aioipc.open_pipeline(["cat", "-v"], ["lpr", "-h"], stdin=PIPE) as p:
            await p.stdin.send(b"stuff\\n")

    Each stage's stdout is joined to the next stage's stdin by a kernel pipe, so the
    bytes between stages never pass through Python.  Every executable is looked up
    before the first stage starts.

    Args:
        commands: two or more argument lists (one is allowed too).
        stdin: the first stage's stdin: None (ours), PIPE, DEVNULL, a file or an fd.
        stdout: the last stage's stdout, likewise.
        stderr: every stage's stderr: None (ours), DEVNULL, a file or an fd.
        check: when the block is left normally, raise :class:`aioipc.PipelineError`
            if any stage failed (pipefail).  A stage killed by SIGPIPE because a later
            stage exited successfully (``yes | head -1``) has not failed.
        cwd, env, grace: as :func:`open_process`, for every stage.

    Raises:
        aioipc.PipelineError: (leaving the block) ``check`` and a failed stage; the
            message names every failed stage, its position and how it ended.
        TypeError, ValueError: a command is a string (no shell here: use
            ``run_process(..., shell=True)``), no command at all, or a bad stdio value
            (``stderr=PIPE`` is refused: one pipe per stage that nobody reads).
        FileNotFoundError, PermissionError: a program is missing or not executable;
            nothing was started.
    """
    if not commands:
        raise ValueError("open_pipeline() needs at least one command")
    specs = [
        _Spec(
            command,
            shell=False,
            cwd=cwd,
            env=env,
            start_new_session=False,
            process_group=None,
            caller="open_pipeline",
        )
        for command in commands
    ]
    _check_stdio(stdin, stdout, stderr)
    if stderr == PIPE:
        raise ValueError(
            "open_pipeline() does not pipe stderr (each stage would need a reader); "
            "pass a file, DEVNULL, or None to share ours"
        )
    grace = _check_grace(grace)

    async def start() -> Pipeline:
        return await _open_pipeline(specs, stdin, stdout, stderr, check=check, grace=grace)

    return _Opener(start)


async def _open_pipeline(
    specs: list[_Spec],
    stdin: StdioArg,
    stdout: StdioArg,
    stderr: StdioArg,
    *,
    check: bool,
    grace: float,
) -> Pipeline:
    for spec in specs:
        spec.resolve()  # a missing program fails before anything starts
    processes: list[Process] = []
    children: list[Child] = []
    plans: list[_Stdio] = []
    next_stdin: int | None = None
    try:
        for index, spec in enumerate(specs):
            last = index == len(specs) - 1
            stdio = _Stdio()
            plans.append(stdio)
            if index == 0:
                stdio.set(0, stdin, "stdin")
            else:
                assert next_stdin is not None
                stdio.child[0] = next_stdin
                stdio.after_spawn.append(next_stdin)
                next_stdin = None
            if last:
                stdio.set(1, stdout, "stdout")
            else:
                read_fd, write_fd = _pipe()
                next_stdin = read_fd
                stdio.child[1] = write_fd
                stdio.after_spawn.append(write_fd)
            stdio.set(2, stderr, "stderr")
            children.append(await _start(spec, stdio))
        for spec, child, stdio in zip(specs, children, plans, strict=True):
            in_s, out_s, err_s = await _make_streams(child, stdio)
            processes.append(
                Process(child, spec.argv, stdin=in_s, stdout=out_s, stderr=err_s, grace=grace)
            )
    except BaseException:
        if next_stdin is not None:
            os.close(next_stdin)
        for stdio in plans:
            stdio.close_all()

        async def stop() -> None:
            for child in children:
                with contextlib.suppress(ChildProcessError):
                    await child.shutdown(0)
            for process in processes:
                for stream in (process.stdin, process.stdout, process.stderr):
                    await _close_bounded(stream)

        await run_to_completion(stop())
        raise
    return Pipeline(processes, check=check)
