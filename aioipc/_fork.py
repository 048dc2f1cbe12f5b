"""Forking the running program: :func:`open_fork` and :func:`spawn_detached`.

What a forked child inherits, and what it lets go of
====================================================

``fork()`` copies the whole process: memory, every open fd, signal dispositions, the
signal mask, and the Python objects of the parent's event loop -- the loop itself, its
selector (an epoll fd), its self-pipe and the wakeup fd ``signal.set_wakeup_fd`` points
at (python/asyncio#347).  Only the calling thread survives; every other thread
(asyncio's default executor, uvloop's libuv thread pool) is simply gone in the child,
with whatever locks it held (uvloop#39).  So, before user code runs, the child:

* keeps signals blocked from before the fork (the parent blocks them around ``fork()``)
  until it has pointed the wakeup fd away (``set_wakeup_fd(-1)``) and put every caught
  signal back to its default.  Otherwise a signal sent to the child in those first
  microseconds runs the parent's C handler, which writes the signal's number into the
  wakeup socket the two processes share: the *parent's* loop would then run its handler
  for a signal it never got.  Dispositions the parent ignores stay ignored (SIGPIPE
  included, as in any CPython process); SIGINT gets ``default_int_handler`` back.
* freezes the garbage collector's view of everything it inherited (``gc.freeze()``): an
  unreachable transport or file object of the parent, collected in the child, would
  close an fd *number* that the child may since have reused.
* forgets the running loop and the policy's loop (``_set_running_loop(None)``,
  ``set_event_loop(None)``), but never calls a method on the inherited loop: on uvloop
  that would re-enter libuv, and closing an asyncio loop unregisters its fds from the
  epoll instance, which is kernel state the parent still uses.  Closing the child's
  *copies* of the fds is harmless: an epoll registration belongs to the open file
  description and lives on while the parent holds it.
* puts its pipe ends on fds 0, 1 and 2 and closes every other fd it inherited, except
  the channel and ``pass_fds``.  Close-on-exec is not enough without an exec: a second child would
  otherwise hold the first child's stdin pipe open, and the first would never see EOF
  (perlipc, "Avoiding Pipe Deadlocks").
* binds fresh ``sys.stdin``, ``sys.stdout`` and ``sys.stderr`` objects to those fds.
  The parent flushed its own before forking; the inherited objects are kept alive but
  never written or flushed again, so buffered output never appears twice.
* changes directory, starts a new session, and drops privileges in the safe order --
  ``setgroups``, then ``setresgid``, then ``setresuid`` -- and verifies the result (real,
  effective and saved ids, the group list, and that ``setuid(0)`` now fails).

Any failure there is written to a close-on-exec pipe that the parent reads until EOF, so
the parent raises it (``PermissionError``, ``FileNotFoundError``, ...) from ``open_fork``
instead of finding a mysterious exit status later.  Then ``func`` runs; an ``async``
function gets a fresh asyncio loop (asyncio's selector loop needs nothing from before the
fork).  The child always leaves through ``os._exit``, so the parent's ``atexit``
handlers, ``finally`` blocks and buffered files never run in it.

Which fds the child closes
==========================

The parent lists its open fds (number and inode) just before ``fork()``; the child
closes exactly those, minus the ones it keeps.  An fd that an at-fork handler made in
the child is left alone: libuv's handler recreates its process-wide signal lock pipe,
and closing that makes the next uvloop ``subprocess_exec`` in the child abort
(SIGABRT).  With it kept, a child may run a uvloop loop of its own (``aioipc.run``
picks uvloop by default) while still sharing nothing with the parent's loop.

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

spawn_detached
==============

perlipc's ``system("cmd &")`` with nothing left to reap: the intermediate child forks
the grandchild and exits at once; the caller reaps it with ``waitpid`` on that one pid
(never ``-1``).  The grandchild starts a new session, restores SIGPIPE and SIGXFSZ to
their defaults (an ignored signal survives exec), clears the signal mask, closes every
fd but its stdio, and execs.  If the exec fails, the error travels back over a
close-on-exec pipe -- whose EOF, in the success case, is the exec itself.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import errno
import faulthandler
import fcntl
import gc
import grp
import inspect
import io
import json
import os
import pwd
import signal
import socket
import sys
import traceback
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NoReturn, TypeAlias

from . import _signal_hub
from ._children import Child, run_to_completion, watch_child
from ._loop import loop_factory
from ._process import DEVNULL, PIPE, STDOUT, Process, StdioArg
from ._streams import Stream

__all__ = ["ForkedProcess", "open_fork", "spawn_detached"]

#: Something that names a program or an argument.
ArgLike: TypeAlias = "str | bytes | os.PathLike[str] | os.PathLike[bytes]"

#: Exit status of a child whose setup failed (the parent raises the reason).
SETUP_FAILED_STATUS = 127

_UNCATCHABLE = frozenset({signal.SIGKILL, signal.SIGSTOP})
#: Blocked around fork(): every signal but the uncatchable ones and synchronous faults
#: (blocking a fault that really happens kills the process).
_BLOCK_AROUND_FORK = frozenset(
    set(signal.valid_signals())
    - _UNCATCHABLE
    - {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE}
)

#: The inherited sys.std* objects of a forked child: kept referenced so that they are
#: never finalized (which would flush the parent's buffer or close a reused fd number).
_abandoned: list[object] = []


# ----------------------------------------------------------------- credentials


@dataclass(frozen=True, slots=True)
class _Credentials:
    """The identity a child switches to, resolved in the parent (NSS is not fork-safe)."""

    uid: int | None
    gid: int | None
    groups: tuple[int, ...] | None
    label: str


def _resolve_credentials(user: str | int | None, group: str | int | None) -> _Credentials | None:
    """Look ``user`` and ``group`` up in the parent, before anything is forked."""
    if user is None and group is None:
        return None
    for name, value in (("user", user), ("group", group)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise TypeError(f"{name} must be a name or a number, not {value!r}")
        if isinstance(value, int) and value < 0:
            raise ValueError(f"{name}={value} is not a valid id (ids are >= 0)")
    gid: int | None = None
    group_label = ""
    if group is not None:
        if isinstance(group, str):
            try:
                gid = grp.getgrnam(group).gr_gid
            except KeyError:
                raise ValueError(f"group={group!r}: no such group") from None
        else:
            gid = group
        group_label = f"group {group!r} (gid {gid})" if isinstance(group, str) else f"gid {gid}"
    if user is None:
        # A group alone: root's supplementary groups go, the new group is the only one.
        return _Credentials(
            uid=None, gid=gid, groups=(gid,) if gid is not None else None, label=group_label
        )
    entry: pwd.struct_passwd | None
    if isinstance(user, str):
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise ValueError(f"user={user!r}: no such user") from None
        uid = entry.pw_uid
    else:
        uid = user
        try:
            entry = pwd.getpwuid(uid)
        except KeyError:
            entry = None
    if gid is None:
        if entry is None:
            raise ValueError(
                f"user={user!r} has no entry in the password database, so its group is "
                "unknown: pass group= as well"
            )
        gid = entry.pw_gid
        group_label = f"gid {gid}"
    groups = tuple(os.getgrouplist(entry.pw_name, gid)) if entry is not None else (gid,)
    user_label = f"user {user!r} (uid {uid})" if isinstance(user, str) else f"uid {uid}"
    return _Credentials(uid=uid, gid=gid, groups=groups, label=f"{user_label}, {group_label}")


class _SetupError(Exception):
    """A step of the child's setup failed; ``what`` says which, ``cause`` how."""

    def __init__(self, what: str, cause: BaseException) -> None:
        super().__init__(what)
        self.what = what
        self.cause = cause


def _step(what: str, func: Callable[..., object], *args: Any) -> None:
    try:
        func(*args)
    except OSError as exc:
        raise _SetupError(what, exc) from exc


def _drop_privileges(creds: _Credentials) -> None:
    """setgroups, setresgid, setresuid -- in that order -- then check that it took."""
    uid, gid, groups = creds.uid, creds.gid, creds.groups
    if groups is not None and set(groups) != set(os.getgroups()):
        _step(f"set the supplementary groups to {list(groups)}", os.setgroups, list(groups))
    if gid is not None and os.getresgid() != (gid, gid, gid):
        _step(f"switch to gid {gid}", os.setresgid, gid, gid, gid)
    if uid is not None and os.getresuid() != (uid, uid, uid):
        _step(f"switch to uid {uid}", os.setresuid, uid, uid, uid)
    # Verify: never trust that a drop happened because no call failed.
    problems = []
    if uid is not None and os.getresuid() != (uid, uid, uid):
        problems.append(f"real/effective/saved uids are {os.getresuid()}, not {uid}")
    if gid is not None and os.getresgid() != (gid, gid, gid):
        problems.append(f"real/effective/saved gids are {os.getresgid()}, not {gid}")
    if groups is not None and set(os.getgroups()) != set(groups):
        problems.append(f"supplementary groups are {os.getgroups()}, not {list(groups)}")
    if uid is not None and uid != 0:
        for name, regain in (("setuid", os.setuid), ("setgid", os.setgid)):
            try:
                regain(0)
            except PermissionError:
                continue
            problems.append(f"{name}(0) still succeeds: root privileges could be regained")
    if problems:
        raise _SetupError(
            f"drop privileges to {creds.label}",
            PermissionError("the privilege drop did not take effect: " + "; ".join(problems)),
        )


# ------------------------------------------------------- the child's side of fork()


def _reset_signals(*, for_exec: bool) -> None:
    """Let go of the parent's signal handling; signals must be blocked meanwhile.

    Caught signals (the hub's handlers, the loop's, asyncio.Runner's SIGINT, libuv's
    C-level SIGCHLD) go back to their defaults; ignored ones stay ignored, except that
    ``ignore_signals()`` blocks of the parent are unwound to what was underneath.  For an
    exec, CPython's own SIGPIPE and SIGXFSZ ignores go too, and SIGINT gets SIG_DFL.
    """
    signal.set_wakeup_fd(-1)
    frames = _signal_hub._ignore_frames
    for signum in signal.valid_signals():
        if signum in _UNCATCHABLE:
            continue
        if signum in frames:
            current = _signal_hub._underlying_handler(signum)
        else:
            current = signal.getsignal(signum)
        target: Any
        if for_exec and signum in (signal.SIGPIPE, signal.SIGXFSZ):
            target = signal.SIG_DFL
        elif current == signal.SIG_IGN:
            target = signal.SIG_IGN
        elif signum == signal.SIGINT and not for_exec:
            target = signal.default_int_handler
        else:
            target = signal.SIG_DFL
        with contextlib.suppress(OSError, ValueError):
            signal.signal(signum, target)
    frames.clear()


def _move_above_stdio(fd: int) -> int:
    """Return an fd >= 3 for ``fd`` (a copy if it is 0, 1 or 2), so dup2 cannot clobber it."""
    if fd >= 3:
        return fd
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


def _redirect_stdio(sources: tuple[int | None, int | None, int | None]) -> None:
    """Put each source fd on 0, 1, 2 (None: leave the inherited fd; DEVNULL; STDOUT)."""
    devnull: int | None = None
    if DEVNULL in sources:
        devnull = _move_above_stdio(os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC))
    resolved: list[int | None] = []
    for source in sources:
        if source == DEVNULL:
            resolved.append(devnull)
        elif source is None or source == STDOUT:
            resolved.append(source)
        else:
            resolved.append(_move_above_stdio(source))
    for target, source in enumerate(resolved):
        if source is None:
            continue
        if source == STDOUT:
            source = 1
        if source != target:
            os.dup2(source, target)


#: What an fd refers to: (st_dev, st_ino) of its file.
_Identity: TypeAlias = tuple[int, int]


def _open_fd_identities() -> dict[int, _Identity] | None:
    """Every open fd of this process and what it refers to; None without /proc."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return None
    found: dict[int, _Identity] = {}
    for name in names:
        fd = int(name)
        try:
            st = os.fstat(fd)
        except OSError:
            continue  # the fd listdir itself used
        found[fd] = (st.st_dev, st.st_ino)
    return found


def _close_inherited_fds(inherited: dict[int, _Identity] | None, keep: set[int]) -> None:
    """Close every fd from 3 up that the parent had open at the fork, except ``keep``.

    An fd that was not open in the parent, or that now refers to another file, was
    made in this child by an at-fork handler -- libuv recreates its signal lock pipe
    that way, and uvloop aborts if it is closed -- and is left alone.  Without /proc
    there is no telling: everything from 3 up but ``keep`` is closed.
    """
    current = _open_fd_identities() if inherited is not None else None
    if inherited is None or current is None:
        _close_fds_except(keep)
        return
    for fd, identity in current.items():
        if fd >= 3 and fd not in keep and inherited.get(fd) == identity:
            os.close(fd)


def _close_fds_except(keep: set[int]) -> None:
    """Close every fd from 3 up that is not in ``keep``."""
    try:
        highest = max(int(name) for name in os.listdir("/proc/self/fd"))
    except (OSError, ValueError):
        highest = os.sysconf("SC_OPEN_MAX") - 1
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        if fd > low:
            os.closerange(low, fd)
        low = max(low, fd + 1)
    if low <= highest:
        os.closerange(low, highest + 1)


def _fresh_stdio() -> None:
    """Bind new sys.stdin/stdout/stderr to fds 0/1/2, abandoning the inherited objects.

    The parent's objects may wrap other fds (pytest's capture files, say), which the child
    has closed, and may hold buffered output that belongs to the parent.
    """
    for name, fd in (("stdin", 0), ("stdout", 1), ("stderr", 2)):
        old = getattr(sys, name)
        _abandoned.append(old)
        _abandoned.append(getattr(sys, f"__{name}__"))
        new: io.TextIOWrapper | None
        try:
            os.fstat(fd)
        except OSError:
            new = None
        else:
            encoding = getattr(old, "encoding", None) or "utf-8"
            errors = getattr(old, "errors", None) or ("backslashreplace" if fd == 2 else "strict")
            line_buffered = fd == 2 or (fd == 1 and os.isatty(1))
            new = open(  # noqa: SIM115 - lives as long as the child
                fd,
                "r" if fd == 0 else "w",
                buffering=1 if line_buffered else -1,
                encoding=encoding,
                errors=errors,
                closefd=False,
            )
        setattr(sys, name, new)
        setattr(sys, f"__{name}__", new)
    if faulthandler.is_enabled():
        if sys.stderr is not None:
            faulthandler.enable(file=sys.stderr)
        else:
            faulthandler.disable()


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):  # nothing left to report it to
                stream.flush()


def _encode_error(exc: BaseException) -> bytes:
    """One line describing a setup failure, for the parent to raise."""
    what = ""
    if isinstance(exc, _SetupError):
        what, exc = exc.what, exc.cause
    record: dict[str, Any] = {
        "type": type(exc).__name__,
        "what": what,
        "message": exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc),
        "errno": exc.errno if isinstance(exc, OSError) and exc.errno else 0,
        "filename": os.fsdecode(exc.filename)
        if isinstance(exc, OSError) and isinstance(exc.filename, str | bytes)
        else None,
    }
    return json.dumps({"error": record}).encode() + b"\n"


def _decode_error(line: bytes, could_not: str) -> BaseException:
    """Rebuild the exception a child reported with :func:`_encode_error`.

    ``could_not`` starts the message: ``"open_fork(): the child could not"``.
    """
    record = json.loads(line)["error"]
    message = record["message"]
    if record["what"]:
        message = f"{could_not} {record['what']}: {message}"
    if record["errno"]:
        if record["filename"] is not None:
            return OSError(record["errno"], message, record["filename"])
        return OSError(record["errno"], message)
    cls = getattr(builtins, record["type"], None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:  # an exception type with another signature
            pass
    return RuntimeError(f"{message} ({record['type']})")


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


@dataclass(slots=True)
class _ForkPlan:
    """Everything the forked child needs, prepared in the parent."""

    func: Callable[..., object]
    args: tuple[Any, ...]
    stdio: tuple[int | None, int | None, int | None]
    channel: socket.socket | None
    report_fd: int
    pass_fds: tuple[int, ...]
    cwd: str | bytes | None
    new_session: bool
    credentials: _Credentials | None
    signal_mask: set[int]
    #: The parent's open fds just before the fork (None: no /proc).
    inherited_fds: dict[int, _Identity] | None
    #: Parent-side sockets whose Python objects must not close a reused fd number.
    parent_sockets: tuple[socket.socket, ...]


def _child_setup(plan: _ForkPlan) -> None:
    """Everything between fork() and user code; signals are blocked on entry."""
    _reset_signals(for_exec=False)
    asyncio.events._set_running_loop(None)
    policy = asyncio.get_event_loop_policy()
    if isinstance(policy, asyncio.events.BaseDefaultEventLoopPolicy):
        # The base method: the Unix policy's override would re-attach a legacy child
        # watcher, calling methods of the inherited loop.
        asyncio.events.BaseDefaultEventLoopPolicy.set_event_loop(policy, None)
    else:
        policy.set_event_loop(None)
    for sock in plan.parent_sockets:
        sock.detach()  # the fd is closed below; the object must not close it again
    _redirect_stdio(plan.stdio)
    keep = {plan.report_fd, *plan.pass_fds}
    if plan.channel is not None:
        keep.add(plan.channel.fileno())
    _close_inherited_fds(plan.inherited_fds, keep)
    signal.pthread_sigmask(signal.SIG_SETMASK, plan.signal_mask)
    _fresh_stdio()
    if plan.cwd is not None:
        _step("change directory", os.chdir, plan.cwd)
    if plan.new_session:
        _step("start a new session", os.setsid)
    if plan.credentials is not None:
        _drop_privileges(plan.credentials)


def _child_main(plan: _ForkPlan) -> NoReturn:
    """The forked child: set up, run ``func``, leave through ``os._exit`` whatever happens."""
    status = SETUP_FAILED_STATUS
    try:
        gc.freeze()
        gc.enable()
        try:
            _child_setup(plan)
        except BaseException as exc:
            try:
                _write_all(plan.report_fd, _encode_error(exc))
            finally:
                os._exit(SETUP_FAILED_STATUS)
        os.close(plan.report_fd)  # EOF: the parent's open_fork() returns
        status = _run_user_code(plan.func, plan.args, plan.channel)
    finally:
        try:
            _flush_stdio()
        finally:
            os._exit(status)


def _exit_status(result: object) -> int:
    """Turn func's return value (or a SystemExit code) into an exit status."""
    if result is None:
        return 0
    if isinstance(result, int) and 0 <= result <= 255:
        return int(result)
    print(
        f"open_fork(): the child's function returned {result!r}; return None or an exit "
        "status from 0 to 255",
        file=sys.stderr,
    )
    return 1


def _run_async(coro: Any) -> object:
    with asyncio.Runner(loop_factory=loop_factory("asyncio")) as runner:
        return runner.run(coro)


async def _with_stream(
    func: Callable[..., Any], sock: socket.socket, args: tuple[Any, ...]
) -> Any:
    stream = await Stream.from_socket(sock)
    try:
        return await func(stream, *args)
    finally:
        await stream.aclose()


def _run_user_code(
    func: Callable[..., object], args: tuple[Any, ...], channel: socket.socket | None
) -> int:
    """Run ``func`` and return the exit status its outcome stands for."""
    try:
        if channel is not None and inspect.iscoroutinefunction(func):
            result = _run_async(_with_stream(func, channel, args))
        else:
            result = func(channel, *args) if channel is not None else func(*args)
            if inspect.isawaitable(result):
                result = _run_async(result)
        return _exit_status(result)
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return _exit_status(code)
        print(code, file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        _print_traceback(exc)
        _flush_stdio()
        # Die by SIGINT, as CPython does, so that a shell sees what happened.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        os.kill(os.getpid(), signal.SIGINT)
        return 130
    except BaseException as exc:
        _print_traceback(exc)
        return 1


def _print_traceback(exc: BaseException) -> None:
    """Print ``exc`` on the child's stderr, starting at the user's code, not ours."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)


# ------------------------------------------------------------------ spawn_detached


def _check_argv(argv: object, caller: str) -> list[bytes]:
    """Validate an argument list and encode it for exec."""
    if isinstance(argv, str | bytes | os.PathLike):
        raise TypeError(
            f"{caller} takes a list of arguments, such as ['sleep', '10'], not "
            f"{type(argv).__name__} {argv!r}: a single string would need a shell to split "
            "it; pass ['sh', '-c', command] if that is what you want"
        )
    if not isinstance(argv, Sequence):
        raise TypeError(f"{caller} needs argv as a list of strings, not {argv!r}")
    if not argv:
        raise ValueError(f"{caller} needs a non-empty argv: the program to run")
    encoded = []
    for index, arg in enumerate(argv):
        if not isinstance(arg, str | bytes | os.PathLike):
            raise TypeError(f"argv[{index}] must be a str, bytes or path, not {arg!r}")
        value = os.fsencode(arg)
        if b"\0" in value:
            raise ValueError(f"argv[{index}] contains a NUL byte: {arg!r}")
        encoded.append(value)
    return encoded


def _detached_stdio(value: object, name: str) -> int | None:
    """An fd for a spawn_detached stdio argument (None: /dev/null)."""
    if value is None or value == DEVNULL:
        return DEVNULL
    if value == STDOUT and name == "stderr":
        return STDOUT
    if value == PIPE:
        raise ValueError(
            f"{name}=PIPE: a detached process has no pipe back to its caller; pass an "
            "open file or fd (or None for /dev/null)"
        )
    return _fd_of(value, name)


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


def _exec_candidates(program: bytes, env: Mapping[bytes, bytes] | None) -> list[bytes]:
    """The paths exec will try for ``program``, searched in PATH like execvp."""
    if b"/" in program:
        return [program]
    path = os.get_exec_path(env)  # type: ignore[arg-type]
    return [os.path.join(os.fsencode(directory), program) for directory in path]


def _exec_first(candidates: list[bytes], argv: list[bytes], env: Mapping[bytes, bytes]) -> None:
    """execve the first candidate that exists; raise the most telling error otherwise."""
    saved: OSError | None = None
    last: OSError | None = None
    for path in candidates:
        try:
            os.execve(path, argv, env)
        except OSError as exc:
            last = exc
            if exc.errno == errno.EACCES and saved is None:
                saved = exc
            elif exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise
    error = saved or last
    assert error is not None
    raise error


@dataclass(slots=True)
class _DetachPlan:
    argv: list[bytes]
    candidates: list[bytes]
    env: Mapping[bytes, bytes]
    stdio: tuple[int | None, int | None, int | None]
    cwd: str | bytes | None
    report_fd: int


def _detached_grandchild(plan: _DetachPlan) -> NoReturn:
    """setsid, stdio, cwd, signals, fds -- then exec; report any failure and exit 127."""
    try:
        try:
            _step("start a new session", os.setsid)
            _reset_signals(for_exec=True)
            _redirect_stdio(plan.stdio)
            if plan.cwd is not None:
                _step("change directory", os.chdir, plan.cwd)
            _close_fds_except({plan.report_fd})
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            try:
                _exec_first(plan.candidates, plan.argv, plan.env)
            except OSError as exc:
                named = OSError(exc.errno, exc.strerror, os.fsdecode(plan.argv[0]))
                raise _SetupError("run the program", named) from exc
        except BaseException as exc:
            _write_all(plan.report_fd, _encode_error(exc))
    finally:
        os._exit(SETUP_FAILED_STATUS)


def _detached_middle(plan: _DetachPlan) -> NoReturn:
    """The intermediate child: fork the grandchild, say its pid, exit at once."""
    try:
        try:
            pid = os.fork()
        except OSError as exc:
            _write_all(plan.report_fd, _encode_error(_SetupError("fork", exc)))
            os._exit(1)
        if pid == 0:
            _detached_grandchild(plan)
        _write_all(plan.report_fd, json.dumps({"pid": pid}).encode() + b"\n")
    finally:
        os._exit(0)


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
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCK_AROUND_FORK)
    mask_holder.append(old_mask)
    try:
        pid = os.fork()
        if pid == 0:
            try:
                child()
            finally:
                os._exit(SETUP_FAILED_STATUS)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
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


async def spawn_detached(
    argv: Sequence[ArgLike],
    *,
    stdin: StdioArg = None,
    stdout: StdioArg = None,
    stderr: StdioArg = None,
    cwd: str | bytes | os.PathLike[str] | os.PathLike[bytes] | None = None,
    env: Mapping[str, str] | Mapping[bytes, bytes] | None = None,
) -> int:
    """Start a program in the background, detached from this process: ``system("cmd &")``.

    A double fork: the intermediate child starts the program and exits at once, and is
    reaped here (``waitpid`` on its pid only), so nothing is left for the caller to
    reap and the program is not a child of this process.  The program leads a new
    session and process group (its pgid and sid are its pid, so
    ``aioipc.kill_group(pid, sig)`` reaches it and whatever it starts), has no
    controlling terminal, gets SIGPIPE and SIGXFSZ back to their defaults, an empty
    signal mask, and no fds but 0, 1 and 2.  Returns once the program has been exec'd.

    ::

        pid = await aioipc.spawn_detached(["backup", "--all"], stdout=log_file)

    Args:
        argv: the program and its arguments; the program is looked up in ``PATH``
            (``env``'s ``PATH`` when ``env`` is given).
        stdin, stdout, stderr: None or ``DEVNULL`` for ``/dev/null`` (the default: a
            detached program must not write to your terminal or hold your pipes open),
            an fd or an open file; ``stderr=STDOUT`` shares stdout.
        cwd: the directory to run in; by default the current one.
        env: the environment; by default this process's.

    Returns:
        The pid of the detached program (which this process cannot, and need not, wait
        for).

    Raises:
        TypeError: ``argv`` is a single string, or holds something else than strings.
        ValueError: an empty ``argv``, a NUL byte, ``PIPE`` as a stdio argument, or an fd
            that is not open.
        FileNotFoundError: the program does not exist (the message names it), or ``cwd``
            does not.
        PermissionError: the program is not executable.
        OSError: another reason the program could not be started (``fork`` failing
            with EAGAIN, say).

    If the call is cancelled after the fork, the program is killed (``SIGKILL`` to its
    process group) before ``CancelledError`` propagates, so a cancelled call leaves
    nothing running.
    """
    args = _check_argv(argv, "spawn_detached()")
    stdio = (
        _detached_stdio(stdin, "stdin"),
        _detached_stdio(stdout, "stdout"),
        _detached_stdio(stderr, "stderr"),
    )
    if stdio[0] == STDOUT:
        raise ValueError("stdin=STDOUT makes no sense; STDOUT is for stderr")
    if env is None:
        environ: Mapping[bytes, bytes] = os.environb
    else:
        environ = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
    plan_cwd = os.fspath(cwd) if cwd is not None else None
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    plan = _DetachPlan(
        argv=args,
        candidates=_exec_candidates(args[0], environ),
        env=dict(environ),
        stdio=stdio,
        cwd=plan_cwd,
        report_fd=write_fd,
    )
    try:
        try:
            middle = _fork(lambda: _detached_middle(plan), [])
        finally:
            os.close(write_fd)
    except BaseException:
        os.close(read_fd)
        raise
    pid: int | None = None
    chunks: list[bytes] = []
    try:
        try:
            report = await _read_until_eof(read_fd, chunks)
        finally:
            os.close(read_fd)
            # The intermediate child exits right after its fork: this waits a moment at
            # most.  By pid, never -1; ECHILD means SIGCHLD is ignored and it is gone.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(middle, 0)  # noqa: ASYNC222 - it has exited or is about to
        error: BaseException | None = None
        for line in report.splitlines():
            record = json.loads(line)
            if "pid" in record:
                pid = int(record["pid"])
            elif error is None:
                error = _decode_error(line, "spawn_detached(): could not")
        if error is not None:
            raise error
        if pid is None:
            raise RuntimeError("spawn_detached(): the intermediate child died unexpectedly")
        return pid
    except asyncio.CancelledError:
        for line in b"".join(chunks).splitlines(keepends=True):
            if line.endswith(b"\n") and b'"pid"' in line:
                with contextlib.suppress(OSError):
                    os.killpg(int(json.loads(line)["pid"]), signal.SIGKILL)
        raise


# -------------------------------------------------------------------- open_fork


#: Seconds between SIGTERM and SIGKILL when a block is left by an error or cancellation.
DEFAULT_GRACE = 5.0


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
    if isinstance(grace, bool) or not isinstance(grace, int | float) or grace < 0:
        raise ValueError(f"grace must be a number of seconds >= 0, not {grace!r}")
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
        grace=float(grace),
    )
    return _OpenFork(request)
