"""Becoming a daemon, and restarting one: :func:`daemonize` and :func:`reexec`.

daemonize
=========

perlipc's "Complete Dissociation of Child from Parent", done fully: fork, ``setsid``,
fork again (so the daemon is not a session leader and can never acquire a controlling
terminal), ``chdir``, ``umask``, stdio to ``/dev/null`` or the given files, every other
inherited fd closed.  Two things decide where errors appear:

* The pidfile lock is taken *before* the first fork, in the calling process.  A second
  instance therefore fails in the terminal it was started from, with the pid of the
  running one, instead of forking a daemon that dies unseen.
* The daemon (the grandchild) reports success -- or the error of its setup -- over a
  close-on-exec pipe.  The original process exits 0 only after that report, so
  ``myd start && echo started`` means started, and the pidfile holds the daemon's pid
  by the time the caller's shell gets control back.

The pidfile scheme
==================

The lock is ``flock(LOCK_EX | LOCK_NB)`` on the file the pidfile path names.  ``flock``
locks belong to the open file description, which the daemon inherits through both
forks, so the lock lives exactly as long as the daemon (the kernel drops it when the
process dies, however it dies).  The pid is never written in place: the file at the
path always holds a whole pid, never an empty or half-written one.

* The caller creates a temporary file next to the pidfile (``.NAME.XXXXXXXX.tmp``,
  ``O_EXCL``) and locks it; then it locks the existing pidfile, if there is one.  A
  lock held by someone else means a running instance: :class:`AlreadyRunning`, before
  any fork.  An unlocked one is stale, whatever pid it holds: we keep its lock, so that
  nobody else takes it over meanwhile.
* The daemon writes ``"<pid>\\n"`` into the temporary file, ``fsync``-s it and
  ``rename``-s it over the pidfile, whose lock it holds; then it lets the old file go.
  The name moves to the new inode in one step, locked by the daemon from before.
* With no pidfile yet, there is nothing to lock, and ``rename`` would silently replace
  a pidfile that a racing instance created meanwhile.  So the daemon first puts a
  locked file already holding its pid at the path with ``link``, which fails if the
  path exists -- then the racer's lock decides, and the loser reports
  :class:`AlreadyRunning` to its caller over the pipe.  Then it renames as above (the
  detour makes the daemon's pidfile fd name the path, as ``/proc/PID/fd`` shows).

Whoever locks a pidfile checks that the path still names the inode it locked (an
exiting daemon may have just removed it, a starting one just renamed over it) and
retries otherwise.  A reader of the pidfile therefore sees no file, the stale pid, or
the new daemon's pid -- never an empty file.  At normal exit (``atexit``) the daemon
removes the pidfile if the path still names its locked file and it still holds its pid.
A caller killed between creating the temporary file and forking leaves that file
behind (unlocked, so harmless).

Why no event loop may exist
===========================

A forked process inherits the loop's epoll fd, its self-pipe and the signal wakeup fd,
and only the calling thread survives: uvloop's thread pool and asyncio's executor are
gone (aiohttp#1497, uvloop#39).  So :func:`daemonize` refuses to run with a loop running
or set in this thread, or with other threads alive; call it first, then ``aioipc.run``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import errno
import fcntl
import io
import json
import os
import secrets
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from typing import IO, NoReturn, TypeAlias

from ._errors import AlreadyRunning, DaemonizeError
from ._fork_child import (
    _close_inherited_fds,
    _decode_error,
    _encode_error,
    _fresh_stdio,
    _open_fd_identities,
    _redirect_stdio,
    _reset_signals,
    _SetupError,
    _step,
    _write_all,
)

__all__ = ["daemonize", "reexec"]

#: What a stdio argument of :func:`daemonize` may be.
DaemonStdio: TypeAlias = "int | str | os.PathLike[str] | IO[str] | IO[bytes] | None"

_LOCK_ATTEMPTS = 10


def _check_no_loop(caller: str) -> None:
    """Raise DaemonizeError if an event loop runs or is set here, or threads exist."""
    running = asyncio._get_running_loop()
    if running is not None:
        raise DaemonizeError(
            f"{caller} called with an event loop running ({type(running).__name__}): "
            "a forked daemon would inherit the loop's epoll and wakeup fds and lose its "
            "threads; call it before aioipc.run() or asyncio.run()"
        )
    policy = asyncio.get_event_loop_policy()
    local = getattr(policy, "_local", None)
    loop = getattr(local, "_loop", None)
    if isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_closed():
        raise DaemonizeError(
            f"{caller} called while this thread has an open event loop "
            f"({type(loop).__name__}): close it first, or daemonize before creating it"
        )
    if threading.current_thread() is not threading.main_thread():
        raise DaemonizeError(f"{caller} must be called from the main thread")
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    if others:
        raise DaemonizeError(
            f"{caller} called with other threads running ({', '.join(others)}): only the "
            "calling thread survives fork(); daemonize before starting threads"
        )


def _read_pid(fd: int) -> int | None:
    """The pid a pidfile holds, or None if it holds none (yet)."""
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _running_pid(fd: int) -> int | None:
    """The pid in a locked pidfile, or None if there is none or it names no process.

    A dead pid is what an instance that is starting shows: it holds the lock on a stale
    file it is about to replace.
    """
    pid = _read_pid(fd)
    if pid is None or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process; no such pid at all
        return None
    except OSError:
        pass  # EPERM: alive
    return pid


def _names(path: str, fd: int) -> bool:
    """Whether ``path`` names the file open on ``fd``."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)


def _lock_existing(path: str) -> int | None:
    """Lock the pidfile ``path`` names; return the fd, or None if there is no pidfile.

    Raises:
        AlreadyRunning: another process holds the lock.
        OSError: the pidfile cannot be opened or locked.
    """
    for _ in range(_LOCK_ATTEMPTS):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AlreadyRunning(path, _running_pid(fd)) from None
            if _names(path, fd):
                return fd
        except BaseException:
            os.close(fd)
            raise
        # Removed or replaced between our open and our lock: look again.
        os.close(fd)
    raise DaemonizeError(f"could not lock pidfile {path}: it keeps being replaced")


def _create_locked_temp(path: str) -> tuple[int, str]:
    """A new, locked, empty file next to ``path``: ``(fd, its path)``."""
    directory, name = os.path.split(path)
    for _ in range(_LOCK_ATTEMPTS):
        temp = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOCTTY | os.O_NOFOLLOW
        try:
            fd = os.open(temp, flags, 0o644)
        except FileExistsError:
            continue
        except OSError as exc:
            raise type(exc)(
                exc.errno,
                f"cannot create a temporary file next to pidfile {path}: {exc.strerror}",
                temp,
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new: nobody else has it
        except BaseException:
            os.close(fd)
            os.unlink(temp)
            raise
        return fd, temp
    raise DaemonizeError(f"could not create a temporary file next to pidfile {path}")


def _place_locked_copy(path: str, data: bytes) -> int | None:
    """Put a locked file holding ``data`` at ``path`` if nothing is there (``link``).

    Returns its fd (locked), or None if ``path`` exists.
    """
    fd, temp = _create_locked_temp(path)
    try:
        _write_at_start(fd, data)
        try:
            os.link(temp, path, follow_symlinks=False)
        except FileExistsError:
            os.close(fd)
            return None
    except BaseException:
        os.close(fd)
        raise
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)
    return fd


def _write_at_start(fd: int, data: bytes) -> None:
    if os.pwrite(fd, data, 0) != len(data):
        raise OSError(errno.EIO, "short write")
    os.fsync(fd)


def _install_pidfile(path: str, temp: str, temp_fd: int, old_fd: int | None) -> None:
    """In the daemon: write our pid into the temporary file and rename it over ``path``.

    ``old_fd`` is the caller's lock on the stale pidfile, if there was one.  Holding the
    lock on whatever ``path`` names when renaming over it is what keeps two starting
    instances apart.

    Raises:
        AlreadyRunning: a racing instance got the pidfile first.
    """
    data = f"{os.getpid()}\n".encode()
    _write_at_start(temp_fd, data)
    try:
        for _ in range(_LOCK_ATTEMPTS):
            if old_fd is not None and not _names(path, old_fd):
                os.close(old_fd)  # removed or replaced since the caller locked it
                old_fd = None
            if old_fd is None:
                old_fd = _place_locked_copy(path, data)
            if old_fd is None:
                old_fd = _lock_existing(path)  # someone else's: locked means running
            if old_fd is None:
                continue  # it vanished again
            os.rename(temp, path)  # the path names our locked file, with our pid
            return
        raise OSError(errno.EAGAIN, f"pidfile {path} keeps being replaced")
    finally:
        if old_fd is not None:
            os.close(old_fd)


def _check_stdio(value: object, name: str) -> None:
    """Reject a stdio argument of the wrong type, before anything is opened."""
    if value is None or isinstance(value, str | os.PathLike):
        return
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{name}={value}: an fd cannot be negative")
        return
    if isinstance(value, bool) or not callable(getattr(value, "fileno", None)):
        raise TypeError(f"{name} must be None, a path, an fd or an open file, not {value!r}")


def _stdio_fd(value: DaemonStdio, name: str) -> tuple[int, bool]:
    """An fd for a stdio argument and whether we opened it (and must close it)."""
    if value is None:
        return os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC | os.O_NOCTTY), True
    if isinstance(value, int):
        try:
            os.fstat(value)
        except OSError:
            raise ValueError(f"{name}={value}: that fd is not open") from None
        return value, False
    if isinstance(value, str | os.PathLike):
        path = os.fspath(value)
        flags = os.O_RDONLY if name == "stdin" else os.O_WRONLY | os.O_CREAT | os.O_APPEND
        return os.open(path, flags | os.O_CLOEXEC | os.O_NOCTTY, 0o644), True
    try:
        fd = value.fileno()
    except (OSError, io.UnsupportedOperation) as exc:
        raise ValueError(f"{name}={value!r} has no file descriptor: {exc}") from None
    return int(fd), False


def _unlink_if_same(path: str, fd: int) -> None:
    """Remove ``path`` if it still names the file open on ``fd``."""
    with contextlib.suppress(OSError):
        named = os.stat(path)
        mine = os.fstat(fd)
        if (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino):
            os.unlink(path)


def _remove_pidfile(path: str, fd: int, pid: int) -> None:
    """atexit: remove the pidfile if it is still ours (same inode, our pid)."""
    if os.getpid() != pid:
        return  # a child that forked without exec and left through sys.exit
    if _read_pid(fd) == pid:
        _unlink_if_same(path, fd)
    with contextlib.suppress(OSError):
        os.close(fd)


@dataclasses.dataclass(slots=True)
class _Pidfile:
    """The pidfile's state between the caller's lock and the daemon's rename."""

    path: str
    #: The locked temporary file that becomes the pidfile; the daemon keeps it open.
    temp: str
    fd: int
    #: The caller's lock on a stale pidfile, if there was one.
    old_fd: int | None

    def fds(self) -> set[int]:
        return {self.fd} | ({self.old_fd} if self.old_fd is not None else set())

    def close(self) -> None:
        for fd in self.fds():
            with contextlib.suppress(OSError):
                os.close(fd)

    def discard(self) -> None:
        """In the caller, after a failed start: remove what the daemon left, and close."""
        _unlink_if_same(self.path, self.fd)
        _unlink_if_same(self.temp, self.fd)
        self.close()


def _prepare_pidfile(path: str) -> _Pidfile:
    """The caller's part: lock a new temporary file, then the pidfile if there is one."""
    fd, temp = _create_locked_temp(path)
    try:
        old_fd = _lock_existing(path)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return _Pidfile(path, temp, fd, old_fd)


def _daemon_setup(
    *,
    stdio: tuple[int, int, int],
    chdir: str | None,
    umask: int | None,
    pidfile: _Pidfile | None,
    report_fd: int,
    close_fds: bool,
    opened: list[int],
    inherited: dict[int, tuple[int, int]] | None,
) -> None:
    """The grandchild's setup, between the second fork and returning to the caller."""
    if chdir is not None:
        _step(f"change directory to {chdir}", os.chdir, chdir)
    if umask is not None:
        os.umask(umask)
    _step("redirect its stdio", _redirect_stdio, stdio)
    for fd in opened:
        if fd >= 3:
            os.close(fd)  # now on 0, 1 or 2
    if close_fds:
        keep = {report_fd} | (pidfile.fds() if pidfile is not None else set())
        # Only what the caller had open: an fd an at-fork handler made (libuv's signal
        # lock pipe, if uvloop ran before) must stay, or uvloop aborts in the daemon.
        _close_inherited_fds(inherited, keep)
    if pidfile is not None:
        _step(
            "write its pid into the pidfile",
            _install_pidfile,
            pidfile.path,
            pidfile.temp,
            pidfile.fd,
            pidfile.old_fd,
        )
        pidfile.old_fd = None  # closed by _install_pidfile
    _fresh_stdio()


def daemonize(
    *,
    pidfile: str | os.PathLike[str] | None = None,
    chdir: str | os.PathLike[str] | None = "/",
    umask: int | None = 0o022,
    stdin: DaemonStdio = None,
    stdout: DaemonStdio = None,
    stderr: DaemonStdio = None,
    close_fds: bool = True,
) -> None:
    """Turn this process into a daemon: perlipc's recipe, with a locked pidfile.

    Forks, starts a new session (``setsid``) and forks again, so the daemon is neither
    a child of the caller's shell nor a session leader, and has no controlling terminal.
    The daemon changes directory to ``chdir``, sets ``umask``, puts ``stdin``,
    ``stdout`` and ``stderr`` on fds 0, 1 and 2 (``/dev/null`` by default: a daemon that
    keeps a caller's pipe open makes ``$(myd start)`` hang) and closes every other fd
    it inherited.  Then this function returns -- in the daemon only.  The original
    process waits until the daemon reports that its setup succeeded and leaves through
    ``os._exit(0)`` (its ``atexit`` handlers and ``finally`` blocks do not run; stdio is
    flushed before the fork).  If the setup fails, the original raises the error and the
    daemon is gone.

    With ``pidfile``, the file is opened and locked (``flock``, exclusive) *before*
    forking: if another process holds the lock, :class:`AlreadyRunning` is raised in the
    caller, naming the pidfile and the pid in it.  A pidfile nobody locks is stale and is
    taken over.  Before it reports success the daemon writes its pid into a locked
    temporary file next to the pidfile and renames it over the pidfile (atomically: a
    reader never sees an empty or partial pidfile); it holds the lock until it dies, and
    removes the file at normal exit if it still holds its pid.  An instance that loses a
    race for a new pidfile is refused with :class:`AlreadyRunning` too, in its caller,
    after the fork.

    Call it first thing, before any event loop or thread exists::

        aioipc.daemonize(pidfile="/run/myd.pid", stderr="/var/log/myd.log")
        aioipc.run(main())

    Args:
        pidfile: a path to lock and write the daemon's pid into; None for none.
        chdir: the directory the daemon runs in (``"/"``, so that it holds no mount
            busy); None to stay.  Relative paths (of ``pidfile`` and the stdio files) are
            resolved before it.
        umask: the daemon's umask; None to keep the current one.
        stdin, stdout, stderr: None for ``/dev/null``, a path (stdin opened for
            reading; stdout and stderr created and appended to, mode 0644), an fd, or an
            open file object.
        close_fds: close every inherited fd except 0, 1, 2 and the pidfile's (True); with
            False, fds that are not close-on-exec stay open in the daemon.

    Returns:
        None, in the daemon.  It never returns in the original process.

    Raises:
        DaemonizeError: an event loop is running or set in this thread, other threads
            exist, or this is not the main thread.
        AlreadyRunning: ``pidfile`` is locked by a running instance (its ``pid``
            attribute is the pid in the file, or None if it holds none).
        TypeError, ValueError: a bad stdio argument or ``umask``.
        OSError: the pidfile or a stdio file could not be opened, a fork failed, or the
            daemon's setup failed (for instance ``FileNotFoundError`` for a missing
            ``chdir`` directory); the message says which step.
    """
    if umask is not None and (
        isinstance(umask, bool) or not isinstance(umask, int) or not 0 <= umask <= 0o777
    ):
        raise ValueError(f"umask must be None or an int from 0 to 0o777, not {umask!r}")
    for value, name in ((stdin, "stdin"), (stdout, "stdout"), (stderr, "stderr")):
        _check_stdio(value, name)
    _check_no_loop("daemonize()")
    pid_path = os.path.abspath(os.fspath(pidfile)) if pidfile is not None else None
    chdir_path = os.path.abspath(os.fspath(chdir)) if chdir is not None else None
    opened: list[int] = []
    lock: _Pidfile | None = None
    try:
        sources: list[int] = []
        for value, name in ((stdin, "stdin"), (stdout, "stdout"), (stderr, "stderr")):
            fd, ours = _stdio_fd(value, name)
            if ours:
                opened.append(fd)
            sources.append(fd)
        if pid_path is not None:
            lock = _prepare_pidfile(pid_path)
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    except BaseException:
        for fd in opened:
            os.close(fd)
        if lock is not None:
            lock.discard()
        raise
    stdio = (sources[0], sources[1], sources[2])
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()
    inherited = _open_fd_identities()
    try:
        middle = os.fork()
    except BaseException:
        for fd in (*opened, read_fd, write_fd):
            os.close(fd)
        if lock is not None:
            lock.discard()
        raise
    if middle == 0:
        _middle_child(
            stdio=stdio,
            chdir=chdir_path,
            umask=umask,
            pidfile=lock,
            report_fd=write_fd,
            read_fd=read_fd,
            close_fds=close_fds,
            opened=opened,
            inherited=inherited,
        )
        # Only the daemon gets here.
        if lock is not None:
            atexit.register(_remove_pidfile, lock.path, lock.fd, os.getpid())
        return
    os.close(write_fd)
    for fd in opened:
        os.close(fd)
    try:
        report = _read_all(read_fd)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(middle, 0)
    except BaseException:  # KeyboardInterrupt while waiting for the report
        if lock is not None:
            lock.close()  # the daemon, if it lives on, installs the pidfile itself
        raise
    error: BaseException | None = None
    ok = False
    for line in report.splitlines():
        if line.startswith(b'{"ok"'):
            ok = True
        elif error is None and line.startswith(b'{"running"'):
            # A racing instance put its pidfile in place first.
            error = AlreadyRunning(pid_path or "", json.loads(line)["running"])
        elif error is None and line.startswith(b'{"error"'):
            error = _decode_error(line, "daemonize(): the daemon could not")
    if lock is not None:
        if not (ok and error is None):
            # The daemon is gone and the lock is ours alone: leave no pidfile behind.
            lock.discard()
        else:
            # The lock stays: the daemon's fd shares the open file description.
            lock.close()
    if ok and error is None:
        os._exit(0)
    if error is None:
        error = DaemonizeError("daemonize(): the daemon died before reporting its setup")
    raise error


def _read_all(fd: int) -> bytes:
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def _middle_child(
    *,
    stdio: tuple[int, int, int],
    chdir: str | None,
    umask: int | None,
    pidfile: _Pidfile | None,
    report_fd: int,
    read_fd: int,
    close_fds: bool,
    opened: list[int],
    inherited: dict[int, tuple[int, int]] | None,
) -> None:
    """First child: new session, fork the daemon, exit.  Returns only in the daemon."""
    try:
        os.close(read_fd)
        _step("start a new session", os.setsid)
        try:
            pid = os.fork()
        except OSError as exc:
            raise _SetupError("fork", exc) from exc
        if pid != 0:
            os._exit(0)
        _daemon_setup(
            stdio=stdio,
            chdir=chdir,
            umask=umask,
            pidfile=pidfile,
            report_fd=report_fd,
            close_fds=close_fds,
            opened=opened,
            inherited=inherited,
        )
        _write_all(report_fd, json.dumps({"ok": os.getpid()}).encode() + b"\n")
        os.close(report_fd)
    except BaseException as exc:
        try:
            if isinstance(exc, AlreadyRunning):
                _write_all(report_fd, json.dumps({"running": exc.pid}).encode() + b"\n")
            else:
                _write_all(report_fd, _encode_error(exc))
        finally:
            os._exit(1)


# -------------------------------------------------------------------------- reexec


def _default_argv() -> list[str]:
    """This program's command line, with the script made absolute (cwd may have moved)."""
    orig = list(sys.orig_argv)
    head = orig[: len(orig) - len(sys.argv)]
    target = orig[len(orig) - len(sys.argv)] if len(orig) >= len(sys.argv) else None
    if target is None or not head:
        raise DaemonizeError(
            f"reexec(): cannot rebuild the command line from sys.orig_argv={orig!r}; pass argv"
        )
    if head[-1] not in ("-c", "-m") and target != "-":
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if isinstance(main_file, str) and os.path.isabs(main_file):
            target = main_file
        else:
            target = os.path.abspath(target)
    return [sys.executable, *head[1:], target, *sys.argv[1:]]


def reexec(argv: Sequence[str] | None = None) -> NoReturn:
    """Replace this process with a fresh run of this program: the SIGHUP re-exec form.

    perlipc's ``exec($SELF, @ARGV)``: the pid stays the same, and by default so does
    the command line -- the interpreter, its options, the script (by absolute path, so a
    daemon that changed directory still finds it) and its arguments.  Before ``exec``
    stdout and stderr are flushed, caught signals are put back to their defaults,
    CPython's own ignores of SIGPIPE and SIGXFSZ are undone, and the signal mask is
    cleared (a signal blocked while it is handled -- SIGHUP in a SIGHUP handler -- would
    otherwise stay blocked in the new program, which is why Perl needs ``SA_NODEFER``).
    Fds are closed by ``exec`` as Python opens them all close-on-exec; a pidfile lock of
    :func:`daemonize` goes with them, so a re-exec'd daemon that calls ``daemonize()``
    again takes its own pidfile over.

    Call it after leaving the event loop (``if aioipc.run(main()): aioipc.reexec()``):
    ``exec`` runs no ``finally`` block, no ``atexit`` handler and no pending callback.

    Args:
        argv: the command line to exec (``argv[0]`` is looked up in ``PATH``); by
            default this program's own.

    Returns:
        Never.

    Raises:
        DaemonizeError: the command line cannot be rebuilt (``python -`` from stdin).
        FileNotFoundError, PermissionError: the program is missing or not executable;
            checked before anything is reset.
        OSError: ``exec`` itself failed.
    """
    if argv is None:
        args = _default_argv()
    else:
        if isinstance(argv, str | bytes):
            raise TypeError(f"reexec() takes a list of arguments, not {argv!r}")
        args = [os.fspath(a) for a in argv]
        if not args:
            raise ValueError("reexec() needs a non-empty argv")
    program = args[0]
    if "/" not in program:
        found = shutil.which(program)
        if found is None:
            raise FileNotFoundError(errno.ENOENT, "reexec(): program not found in PATH", program)
        program = found
    if not os.path.exists(program):
        raise FileNotFoundError(errno.ENOENT, "reexec(): program not found", program)
    if not os.access(program, os.X_OK):
        raise PermissionError(errno.EACCES, "reexec(): program is not executable", program)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()
    if threading.current_thread() is threading.main_thread():
        _reset_signals(for_exec=True)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    os.execv(program, args)
