"""Starting a program detached from this process: :func:`spawn_detached`.

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
import contextlib
import errno
import json
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn, TypeAlias

from ._fork import _fd_of, _fork, _read_until_eof
from ._fork_child import (
    SETUP_FAILED_STATUS,
    _close_fds_except,
    _decode_error,
    _encode_error,
    _redirect_stdio,
    _reset_signals,
    _SetupError,
    _step,
    _write_all,
)
from ._spawn import DEVNULL, PIPE, STDOUT, StdioArg

__all__ = ["spawn_detached"]

#: Something that names a program or an argument.
ArgLike: TypeAlias = "str | bytes | os.PathLike[str] | os.PathLike[bytes]"


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
