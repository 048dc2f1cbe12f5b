"""perlipc's forking server: one child process per connection, reaped by the watcher.

:func:`serve_forking` accepts in the parent's event loop and starts a child for each
connection, in one of two ways:

* **an argv list** (``["cat"]``): the program is exec'd with the client socket as its
  stdin and stdout, as perlipc's ``spawn`` does before ``exec '/usr/games/fortune'``.
  It starts through :mod:`aioipc._spawn` (``posix_spawn``: no Python runs in the
  child, SIGPIPE is back to its default, every other fd stays closed-on-exec).
* **a Python function**, run in a forked child through :mod:`aioipc._fork_child`, the
  machinery behind :func:`aioipc.open_fork`: the child lets go of the parent's loop,
  wakeup fd, signal handlers and every fd but its stdio and the connection, and always
  leaves through ``os._exit``.  A plain function gets the connection as a blocking
  :class:`socket.socket`, and its stdin and stdout are the socket too (``print()``
  reaches the client; buffered output is flushed when the child ends).  An ``async``
  function gets an :class:`aioipc.Stream` on a fresh asyncio loop in the child; its
  stdin is ``/dev/null`` and its stdout the server's, because a Stream makes the socket
  non-blocking and a ``print()`` to a non-blocking socket can fail with ``EAGAIN``.

The parent closes its copy of the connection at once (or the client would never see
EOF from a child that exited), and hands the child to the loop's child watcher
(:mod:`aioipc._children`): a pidfd per child says when it has exited and the watcher
reaps exactly that child.  There is no REAPER and no ``waitpid(-1)``, so children that
other code started are never stolen.  ``accept()`` cannot die of ``EINTR``: it runs
only when the listening socket is readable (:class:`aioipc._listeners.Listener`,
shared with :func:`aioipc.serve`), so it never blocks for a signal to interrupt, and Python
retries an interrupted call anyway (PEP 475).  At ``max_children`` the server stops
accepting until a child exits: new clients wait in the listen backlog.

This module's one job is the children: starting one per connection, reaping it, and
stopping those left at close.  Listening and accepting are :mod:`aioipc._listeners`'s,
and the lifecycle (``close()`` once and to its end, ``async with``, the defaults) is
:class:`aioipc._server_base.ServerBase`'s, shared with :func:`aioipc.serve`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import NoReturn, TypeAlias

from ._addresses import Address
from ._children import Child, ExitStatus, watch_child
from ._fork import _fork, _fork_stdio, _read_until_eof
from ._fork_child import _child_main, _decode_error, _ForkPlan, _open_fd_identities
from ._listeners import ListenSpec, check_listen_args, open_listeners
from ._process import DEFAULT_GRACE, _check_grace, _Opener
from ._server_base import ServerBase, check_limit
from ._spawn import DEVNULL, PIPE, StdioArg, _spawn, _Spec, _Stdio
from ._streams import Stream

__all__ = ["DEFAULT_MAX_CHILDREN", "ForkingServer", "serve_forking"]

logger = logging.getLogger("aioipc.serve")

#: How many children a forking server runs at once unless told otherwise.
DEFAULT_MAX_CHILDREN = 64

#: A connection handler run in the forked child: ``def handler(conn: socket.socket)``
#: or ``async def handler(stream: aioipc.Stream)``.
ForkingHandler: TypeAlias = (
    Callable[[socket.socket], object] | Callable[[Stream], Awaitable[object]]
)


class _ExecLauncher:
    """Starts ``argv`` with the connection as its stdin and stdout."""

    def __init__(self, spec: _Spec, stderr: int | None) -> None:
        self._spec = spec
        self._stderr = stderr
        self.description = repr(spec.argv)

    def launch(self, conn: socket.socket) -> tuple[int, int | None]:
        stdio = _Stdio()
        try:
            fd = conn.fileno()
            stdio.set(0, fd, "stdin")
            stdio.set(1, fd, "stdout")
            stdio.set(2, self._stderr, "stderr")
            pid = _spawn(self._spec, stdio)
        finally:
            stdio.close_all()  # the /dev/null or dup'ed fds it opened; no pipes here
            conn.close()
        return pid, None


class _ForkLauncher:
    """Forks and runs ``handler`` on the connection, as ``open_fork`` runs its function."""

    def __init__(self, handler: Callable[..., object], stderr: int | None) -> None:
        self._handler = handler
        self._stderr = stderr
        self._async = inspect.iscoroutinefunction(handler)
        name = getattr(handler, "__qualname__", None) or type(handler).__qualname__
        self.description = f"{getattr(handler, '__module__', '?')}.{name}"

    def launch(self, conn: socket.socket) -> tuple[int, int | None]:
        report_r, report_w = os.pipe2(os.O_CLOEXEC)
        try:
            fd = conn.fileno()
            stdio = (DEVNULL, None, self._stderr) if self._async else (fd, fd, self._stderr)
            plan = _ForkPlan(
                func=self._handler,
                args=(),
                stdio=stdio,
                channel=conn,
                report_fd=report_w,
                pass_fds=(),
                cwd=None,
                new_session=False,
                credentials=None,
                signal_mask=set(),
                inherited_fds=_open_fd_identities(),
                parent_sockets=(),
            )
            mask: list[set[int]] = []

            def in_child() -> NoReturn:
                plan.signal_mask = mask[0]
                _child_main(plan)

            pid = _fork(in_child, mask)
        except BaseException:
            os.close(report_r)
            raise
        finally:
            os.close(report_w)
            conn.close()
        return pid, report_r


def _watch(pid: int, loop: asyncio.AbstractEventLoop) -> Child:
    try:
        return watch_child(pid, loop=loop)
    except BaseException:
        # No watcher (out of fds, say): kill and reap by hand, so no zombie is left.
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise


class ForkingServer(ServerBase):
    """A running :func:`serve_forking` server: a child process per connection.

    Use it as an async context manager, or ``await server.close()``.  While it runs,
    ``child_pids`` lists the connection children alive right now (each is reaped as
    soon as it exits).

    Attributes:
        max_children: how many children run at once, at most (None: no limit).
    """

    def __init__(
        self,
        sockets: Sequence[tuple[socket.socket, Address]],
        launcher: _ExecLauncher | _ForkLauncher,
        *,
        max_children: int | None,
        grace: float,
    ) -> None:
        """Servers are made by :func:`serve_forking`; it starts accepting at once."""
        super().__init__(sockets)
        self.max_children = max_children
        self._launcher = launcher
        self._grace = grace
        self._children: dict[int, Child] = {}
        self._watchers: set[asyncio.Task[None]] = set()
        self._listener = self._start_accepting(self._on_connection)

    @property
    def child_pids(self) -> tuple[int, ...]:
        """The pids of the connection children running now (not yet reaped)."""
        return tuple(self._children)

    def __repr__(self) -> str:
        where = ", ".join(str(a) for a in self.addresses)
        state = "serving" if self.is_serving else "closed"
        return (
            f"<aioipc.ForkingServer {where} running {self._launcher.description} "
            f"{state}, {len(self._children)} children>"
        )

    def _at_limit(self) -> bool:
        return self.max_children is not None and len(self._children) >= self.max_children

    def _on_connection(self, conn: socket.socket, address: Address) -> None:
        # Blocking, as a program run with a socket for stdin expects; only we hold it.
        conn.setblocking(True)
        try:
            peer: object = conn.getpeername()
        except OSError:
            peer = "a client that already left"
        try:
            pid, report_fd = self._launcher.launch(conn)
        except OSError as exc:
            # fork() or exec failed (EAGAIN: too many processes): this client loses.
            logger.error("cannot start a child for the connection from %r: %s", peer, exc)
            return
        try:
            child = _watch(pid, self._loop)
        except BaseException:
            if report_fd is not None:
                os.close(report_fd)
            raise
        logger.debug("connection from %r: began child %d", peer, pid)
        self._children[pid] = child
        if self._at_limit():
            self._listener.pause()
        task = self._loop.create_task(self._reap(child, report_fd))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _reap(self, child: Child, report_fd: int | None) -> None:
        try:
            if report_fd is not None:
                try:
                    report = await _read_until_eof(report_fd, [])
                finally:
                    os.close(report_fd)
                if report:
                    error = _decode_error(report.splitlines()[0], "the child could not")
                    logger.error(
                        "child %d for %s: %s", child.pid, self._launcher.description, error
                    )
            status = await child.wait()
        except ChildProcessError as exc:
            logger.error("%s", exc)
        else:
            self._log_exit(child.pid, status)
        finally:
            del self._children[child.pid]
            if not self._closing and not self._at_limit():
                self._listener.resume()

    def _log_exit(self, pid: int, status: ExitStatus) -> None:
        if status.success:
            logger.debug("reaped child %d", pid)
        else:
            logger.warning(
                "reaped child %d (%s), which %s", pid, self._launcher.description, status
            )

    async def _shutdown(self, drain_timeout: float | None) -> None:
        self._stop_listening()
        watchers = set(self._watchers)
        if watchers:
            await asyncio.wait(watchers, timeout=drain_timeout)
        left = list(self._children.values())
        if left:
            logger.info("stopping %d children still running after the drain", len(left))
            await asyncio.gather(
                *(child.shutdown(self._grace) for child in left), return_exceptions=True
            )
        if self._watchers:
            await asyncio.wait(set(self._watchers))


def _launcher_for(
    handler_or_argv: object, stderr: StdioArg, env: dict[str, str] | None
) -> _ExecLauncher | _ForkLauncher:
    if isinstance(handler_or_argv, str | bytes):
        raise TypeError(
            "serve_forking() takes an argv list such as ['cat'] or a function, not the string "
            f"{handler_or_argv!r} (there is no shell: split the command into arguments)"
        )
    child_stderr = _fork_stdio(stderr, "stderr")
    if child_stderr == PIPE:
        raise ValueError(
            "serve_forking(): stderr=PIPE makes no sense here; use None, DEVNULL, STDOUT "
            "(the client) or an fd"
        )
    if callable(handler_or_argv):
        if env is not None:
            raise ValueError("serve_forking(): env= is for an argv program, not a function")
        return _ForkLauncher(handler_or_argv, child_stderr)
    if not isinstance(handler_or_argv, Sequence):
        raise TypeError(
            "serve_forking() needs a handler function or an argv list, "
            f"not {type(handler_or_argv).__name__}"
        )
    if not handler_or_argv:
        raise ValueError("serve_forking(): the argv list is empty")
    spec = _Spec(
        handler_or_argv,
        shell=False,
        cwd=None,
        env=env,
        start_new_session=False,
        process_group=None,
        caller="serve_forking",
    )
    spec.resolve()  # a missing program fails now, not at the first connection
    return _ExecLauncher(spec, child_stderr)


def serve_forking(
    handler_or_argv: ForkingHandler | Sequence[str | bytes | os.PathLike[str]],
    address: ListenSpec,
    *,
    max_children: int | None = DEFAULT_MAX_CHILDREN,
    backlog: int = 128,
    unix_mode: int = 0o600,
    stderr: StdioArg = None,
    env: dict[str, str] | None = None,
    grace: float = DEFAULT_GRACE,
) -> _Opener[ForkingServer]:
    """Serve each connection in a child process of its own: perlipc's forking server.

    ::

        # perlipc's fortune server, without the shell and without a REAPER:
        async with aioipc.serve_forking(["fortune"], "tcp://127.0.0.1:2345") as server:
            await server.serve_forever()

        # or a Python function, run in the forked child:
        def hello(conn: socket.socket) -> None:
            print("Hello there, it's now", time.ctime())   # stdout is the socket

        server = await aioipc.serve_forking(hello, "unix:/run/me/catsock")

    Each accepted connection gets a child whose stdin and stdout are the client socket
    (``argv`` programs read and write the client as a filter does; see
    ``docs/servers.md`` for the function forms).  The parent closes its copy of the
    socket at once, and each child is reaped by aioipc's child watcher the moment it
    exits: no zombies, no SIGCHLD handler, no ``waitpid(-1)``.  With ``max_children``
    children running, the server stops accepting until one exits.  Entering the block
    or awaiting the call gives a :class:`ForkingServer` once it listens.

    Args:
        handler_or_argv: an argument list to exec (no shell), or a function run in the
            forked child: ``def handler(conn: socket.socket)`` (blocking socket; stdin
            and stdout are the socket too) or ``async def handler(stream:
            aioipc.Stream)`` (on a fresh asyncio loop).  What the function returns is
            the child's exit status, as with :func:`aioipc.open_fork`.
        address: where to listen: ``"tcp://127.0.0.1:0"``, ``"unix:/path"``,
            ``"unix:@name"``, an :class:`aioipc.Address`, or an already-listening
            :class:`socket.socket` (socket activation), which the server takes over.
        max_children: children running at once, at most; None for no limit.
        backlog: the listen backlog, where clients wait while the server is at
            ``max_children``.
        unix_mode: the permissions of a Unix socket file the server creates.
        stderr: the children's stderr: None (the server's), ``DEVNULL``, ``STDOUT``
            (the client socket, perlipc's commented-out ``open(STDERR, ">&STDOUT")``),
            an fd or an open file.
        env: the environment of an ``argv`` program (default: the server's).
        grace: when :meth:`ForkingServer.close` has waited its ``drain_timeout``, the
            children left get SIGTERM, then SIGKILL after ``grace`` seconds.

    Raises:
        TypeError: a string command (there is no shell), something that is neither a
            function nor an argv list, a bad ``max_children``/``backlog``/``stderr``.
        ValueError: an empty argv, ``max_children`` < 1, ``stderr=PIPE``, a negative
            ``grace``, a bad ``backlog`` or ``unix_mode``, a malformed or datagram
            address, a socket that is not listening.
        FileNotFoundError, PermissionError: the program of ``argv`` is missing or not
            executable.
        FileExistsError: the Unix socket path is taken by something other than a stale
            socket.
        OSError: bind or listen failed.
    """
    check_listen_args("serve_forking", [address], backlog, unix_mode)
    launcher = _launcher_for(handler_or_argv, stderr, env)
    limit = check_limit("max_children", max_children)
    grace = _check_grace(grace)

    async def start() -> ForkingServer:
        sockets = await open_listeners([address], backlog=backlog, unix_mode=unix_mode)
        return ForkingServer(sockets, launcher, max_children=limit, grace=grace)

    return _Opener(start)
