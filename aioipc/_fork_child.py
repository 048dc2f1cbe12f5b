"""The forked child's side of :func:`aioipc.open_fork`: from ``fork()`` to user code.

Everything that runs in the child after the fork -- letting go of the parent's loop,
fds, wakeup fd and signal handlers, its stdio, cwd, session and privilege drop (with
the credentials looked up in the parent beforehand), reporting a setup failure to the
parent -- and then running ``func`` and turning its outcome into an exit status.  The
parent's side is :mod:`aioipc._fork`; :mod:`aioipc._detach` reuses the setup steps.

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
  the channel, ``pass_fds`` and the fds of the logging module's handlers (closed, their
  numbers would be reused and log records written into the child's sockets).
  Close-on-exec is not enough without an exec: a second child would
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
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import faulthandler
import fcntl
import gc
import grp
import importlib
import inspect
import io
import json
import logging
import os
import pwd
import signal
import socket
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeAlias

from . import _signal_hub
from ._loop import loop_factory
from ._spawn import DEVNULL, STDOUT
from ._streams import Stream

#: Exit status of a child whose setup failed (the parent raises the reason).
SETUP_FAILED_STATUS = 127

_UNCATCHABLE = frozenset({signal.SIGKILL, signal.SIGSTOP})

# The C functions behind ``signal.signal``, ``signal.getsignal`` and
# ``signal.pthread_sigmask``: the wrappers convert every signal number and handler to an
# enum and back, which costs more than the system calls (a mask of 56 signals: 150 us).
_c_signal_module = importlib.import_module("_signal")
_c_signal: Callable[[int, Any], Any] = _c_signal_module.signal
_c_getsignal: Callable[[int], Any] = _c_signal_module.getsignal
_c_sigmask: Callable[[int, Iterable[int]], set[int]] = _c_signal_module.pthread_sigmask
_SIG_DFL = int(signal.SIG_DFL)
_SIG_IGN = int(signal.SIG_IGN)
#: Plain ints: in a new child an enum member's ``.value`` is a slow, cold lookup.
_SIGINT = int(signal.SIGINT)
_SIGPIPE = int(signal.SIGPIPE)
_SIGXFSZ = int(signal.SIGXFSZ)

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


#: Every catchable signal, as plain ints (``signal.valid_signals()`` converts each to an
#: enum on every call).
_CATCHABLE: tuple[int, ...] = tuple(
    sorted(int(signum) for signum in signal.valid_signals() if signum not in _UNCATCHABLE)
)
_CATCHABLE_MASK = sum(1 << (signum - 1) for signum in _CATCHABLE)


def _kernel_dispositions() -> tuple[int, int] | None:
    """The caught and ignored signals of this process, as masks (bit ``n - 1``: signal n).

    Read from ``SigCgt`` and ``SigIgn`` in ``/proc/self/status``: one read instead of a
    ``sigaction`` per signal.  None without /proc.
    """
    try:
        fd = os.open("/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, 65536)
    except OSError:
        return None
    finally:
        os.close(fd)
    # Parsed in place: in a new child every object touched costs a copy-on-write fault.
    start_caught = data.find(b"\nSigCgt:")
    start_ignored = data.find(b"\nSigIgn:")
    if start_caught < 0 or start_ignored < 0:
        return None
    caught = int(data[start_caught + 8 : data.index(b"\n", start_caught + 8)], 16)
    ignored = int(data[start_ignored + 8 : data.index(b"\n", start_ignored + 8)], 16)
    return caught, ignored


def _reset_signals(*, for_exec: bool) -> None:
    """Let go of the parent's signal handling; signals must be blocked meanwhile.

    Caught signals (the hub's handlers, the loop's, asyncio.Runner's SIGINT, libuv's
    C-level SIGCHLD) go back to their defaults; ignored ones stay ignored, except that
    ``ignore_signals()`` blocks of the parent are unwound to what was underneath.  For an
    exec, CPython's own SIGPIPE and SIGXFSZ ignores go too, and SIGINT gets SIG_DFL.

    Only the signals whose disposition must change are touched: the kernel says which
    are caught and which ignored (every other one is at SIG_DFL already), and the C
    functions of ``_signal`` are called directly, without ``signal``'s enum conversions.
    """
    signal.set_wakeup_fd(-1)
    frames = _signal_hub._ignore_frames
    masks = _kernel_dispositions()
    if masks is None:
        todo: Iterable[int] = _CATCHABLE
        caught = ignored = 0
    else:
        caught, ignored = masks
        wanted = set()
        remaining = caught & _CATCHABLE_MASK  # not the C library's own (glibc's 32, 33)
        while remaining:
            lowest = remaining & -remaining
            wanted.add(lowest.bit_length())
            remaining ^= lowest
        wanted.update(frames)
        wanted.add(_SIGINT)
        if for_exec:
            wanted.update((_SIGPIPE, _SIGXFSZ))
        todo = wanted
    sig_dfl, sig_ign = _SIG_DFL, _SIG_IGN
    for signum in todo:
        bit = 1 << (signum - 1)
        if signum in frames:
            is_ignored = _signal_hub._underlying_handler(signum) == sig_ign
        elif masks is None:
            is_ignored = _c_getsignal(signum) == sig_ign
        else:
            is_ignored = bool(ignored & bit)
        target: Any
        if for_exec and signum in (_SIGPIPE, _SIGXFSZ):
            target = sig_dfl
        elif is_ignored:
            target = sig_ign
        elif signum == _SIGINT and not for_exec:
            target = signal.default_int_handler
        else:
            target = sig_dfl
        if (
            masks is not None
            and signum not in frames
            and not caught & bit
            and target == (sig_ign if ignored & bit else sig_dfl)
        ):
            continue  # the kernel's disposition (SIG_IGN or SIG_DFL) is the target already
        try:  # noqa: SIM105 - contextlib.suppress: one more cold object in a new child
            _c_signal(signum, target)
        except (OSError, ValueError):
            pass
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
    """Close every fd from 3 up that the parent had open at the fork, except ``keep``
    and the fds the logging module's handlers write to (see :func:`_logging_fds`).

    An fd that was not open in the parent, or that now refers to another file, was
    made in this child by an at-fork handler -- libuv recreates its signal lock pipe
    that way, and uvloop aborts if it is closed -- and is left alone.  Without /proc
    there is no telling: everything from 3 up but ``keep`` is closed.

    The parent's list is all there is to go through: an fd it does not name was not
    inherited, so this child does not list its own fds, it only checks each of the
    parent's (one ``fstat`` each).
    """
    keep = keep | _logging_fds()
    if inherited is None:
        _close_fds_except(keep)
        return
    fstat, close = os.fstat, os.close
    for fd, identity in inherited.items():
        if fd < 3 or fd in keep:
            continue
        try:
            st = fstat(fd)
        except OSError:
            continue  # closed since (by an at-fork handler, say)
        if (st.st_dev, st.st_ino) == identity:
            close(fd)


def _logging_fds() -> set[int]:
    """The fds (3 and up) that the handlers of the logging module's loggers write to.

    They stay open in a child: closed, their numbers would be reused by the child's
    next socket or file, and a log record -- a server's "handler failed" traceback,
    say -- would be written into a client's connection.  Kept, the child logs where
    its parent does (a prefork worker into the service's log file).
    """
    fds: set[int] = set()
    loggers = [logging.root, *logging.root.manager.loggerDict.values()]
    handlers = {h for lg in loggers if isinstance(lg, logging.Logger) for h in lg.handlers}
    for handler in handlers:
        stream = getattr(handler, "stream", None)
        try:
            fd = stream.fileno() if stream is not None else -1
        except (AttributeError, OSError, ValueError):
            continue  # a StringIO, a closed file: no fd to keep
        if isinstance(fd, int) and fd >= 3:
            fds.add(fd)
    return fds


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
    _c_sigmask(signal.SIG_SETMASK, plan.signal_mask)
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
