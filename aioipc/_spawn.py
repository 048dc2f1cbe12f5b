"""Starting an exec'd child: checking the command, posix_spawn or fork+exec, its stdio.

The low level under :mod:`aioipc._process` and :mod:`aioipc._pipes`: a checked command
(:class:`_Spec`), the child's three standard fds (:class:`_Stdio`), and :func:`_start`,
which spawns the child and hands it to the child watcher.

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
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import stat
import subprocess
from collections.abc import Mapping, Sequence
from typing import IO, Any, Protocol, TypeAlias

from ._children import Child, watch_child

__all__ = [
    "DEVNULL",
    "PIPE",
    "STDOUT",
    "Command",
    "StdioArg",
]

#: Make a pipe to or from the child (the same value as :data:`subprocess.PIPE`).
PIPE = subprocess.PIPE
#: Connect the child's stream to ``/dev/null`` (:data:`subprocess.DEVNULL`).
DEVNULL = subprocess.DEVNULL
#: For ``stderr``: send it where stdout goes (:data:`subprocess.STDOUT`).
STDOUT = subprocess.STDOUT


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
