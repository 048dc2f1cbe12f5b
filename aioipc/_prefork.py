"""The prefork server: N worker processes accept on one listening socket.

:func:`serve_prefork` opens the listening socket in the parent and forks ``workers``
children through the fork machinery of :func:`aioipc.open_fork` (the child lets go of
the parent's loop, fds, wakeup fd and handlers; it keeps only the listening sockets and
a socketpair to the parent; it always leaves through ``os._exit``).  Each worker runs
an event loop of its own -- uvloop when the parent runs uvloop, or what ``loop=`` says
-- and runs an :class:`aioipc.Server` of its own on its copies of the sockets, so a
connection is served in a worker exactly as :func:`aioipc.serve` serves it.  The kernel
hands each connection to one of the workers that are waiting for it, so one server
keeps every core busy without a Python process being the bottleneck.

The parent does not accept.  It supervises:

* a worker says ``ready`` over its socketpair once it accepts; ``serve_prefork``
  returns when every worker has;
* a worker that dies is reaped by the child watcher and replaced.  One that dies soon
  after it started is replaced after a pause that doubles on each quick death (up to
  :data:`MAX_RESTART_DELAY`), so a crash loop does not spin the machine;
* ``close()`` -- or SIGTERM while :meth:`PreforkServer.serve_forever` runs -- closes the
  parent's listening sockets and sends SIGTERM to every worker.  A worker then stops
  accepting, lets its connections finish, and exits; whatever is left when
  ``drain_timeout`` is over gets SIGKILL and is reaped.

A worker ignores SIGINT: Ctrl-C in a terminal reaches the whole process group, and the
parent alone decides how to drain.  If the parent dies without closing, each worker
sees EOF on its socketpair and drains by itself (``drain_timeout`` seconds at most), so
no orphan serves on.

This module's one job is the workers: starting, supervising and stopping them.  The
parent's lifecycle (``close()`` once and to its end, ``async with``, the defaults) is
:class:`aioipc._server_base.ServerBase`'s; the sockets come from
:mod:`aioipc._listeners`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from ._addresses import Address
from ._children import Child, run_to_completion
from ._fork import _ForkRequest, _start_fork
from ._listeners import ListenSpec, check_listen_args, open_listeners
from ._loop import LoopName, loop_factory
from ._process import DEFAULT_GRACE, _Opener
from ._server import Server
from ._server_base import DEFAULT_DRAIN_TIMEOUT, ServerBase, check_drain_timeout, check_limit
from ._signals import on_signal
from ._spawn import DEVNULL
from ._streams import Stream

__all__ = ["MAX_RESTART_DELAY", "PreforkServer", "serve_prefork"]

logger = logging.getLogger("aioipc.serve")

#: A worker that lived at least this long before dying is replaced at once.
STABLE_AFTER = 1.0
#: The first pause before replacing a worker that died young; it doubles each time.
FIRST_RESTART_DELAY = 0.1
#: The longest pause between restarts of a worker that keeps dying young.
MAX_RESTART_DELAY = 5.0

_READY = b"ready"


@dataclass(slots=True)
class _WorkerConfig:
    """What a worker needs; it reaches the worker by fork(), never by pickling."""

    handler: Callable[[Stream], Awaitable[object]]
    sockets: list[tuple[socket.socket, Address]]
    loop: LoopName
    max_connections: int | None
    drain_timeout: float | None


# ------------------------------------------------------------------ in the worker


def _worker_main(channel: socket.socket, config: _WorkerConfig) -> None:
    """The forked worker: its own loop, until SIGTERM or the parent's EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    async def main() -> None:
        stream = await Stream.from_socket(channel)
        try:
            await _serve_in_worker(config, stream)
        finally:
            await stream.aclose()

    with asyncio.Runner(loop_factory=loop_factory(config.loop)) as runner:
        runner.run(main())


async def _serve_in_worker(config: _WorkerConfig, channel: Stream) -> None:
    """Serve as :func:`aioipc.serve` does until SIGTERM or the parent's EOF; then drain."""
    stop = asyncio.Event()
    with on_signal(signal.SIGTERM, lambda _: stop.set()):
        # unlink=False: these sockets are copies of the parent's, and so is the Unix
        # socket file; the parent removes it when it closes, not a worker that stops.
        server = Server(
            config.handler, config.sockets, max_connections=config.max_connections, unlink=False
        )
        watch_parent = asyncio.get_running_loop().create_task(_watch_parent(channel, stop))
        try:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await channel.send_line(_READY)
            await stop.wait()
        finally:
            await server.close(config.drain_timeout)
            watch_parent.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch_parent


async def _watch_parent(channel: Stream, stop: asyncio.Event) -> None:
    """EOF on the socketpair means the parent is gone (or closed us): drain."""
    with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, OSError):
        while await channel.receive():
            pass
    stop.set()


# ------------------------------------------------------------------ in the parent


class _WorkerFailed(Exception):
    """A worker exited before it said it was ready."""


@dataclass(slots=True)
class _Slot:
    """One worker position: the worker in it now, and whether it accepts yet."""

    index: int
    child: Child | None = None
    channel: Stream | None = None
    ready: bool = False
    task: asyncio.Task[None] | None = None


class PreforkServer(ServerBase):
    """A running :func:`serve_prefork` server: worker processes and their supervisor.

    Use it as an async context manager, or ``await server.close()``.

    Attributes:
        workers: how many worker processes it keeps running.
    """

    def __init__(
        self,
        sockets: Sequence[tuple[socket.socket, Address]],
        config: _WorkerConfig,
        *,
        workers: int,
    ) -> None:
        """Servers are made by :func:`serve_prefork`."""
        super().__init__(sockets)
        self._exit_drain_timeout = config.drain_timeout
        self.workers = workers
        self._config = config
        self._slots = [_Slot(index) for index in range(workers)]
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._term_tasks: set[asyncio.Task[None]] = set()

    @property
    def worker_pids(self) -> tuple[int, ...]:
        """The pids of the workers running now (started, not yet reaped)."""
        return tuple(
            slot.child.pid
            for slot in self._slots
            if slot.child is not None and slot.child.status is None
        )

    def __repr__(self) -> str:
        where = ", ".join(str(a) for a in self.addresses)
        state = "serving" if self.is_serving else "closed"
        return f"<aioipc.PreforkServer {where} {state}, workers {list(self.worker_pids)}>"

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_ready(self) -> tuple[int, ...]:
        """Wait until every worker slot has a worker that accepts; return their pids.

        A worker that has exited counts as not ready even if the supervisor has not
        noticed yet (it is reaped here and then), so after killing a worker,
        ``wait_ready()`` returns once its replacement accepts.

        Raises:
            RuntimeError: the server is closing or closed.
        """
        while True:
            if self._closing:
                raise RuntimeError("the prefork server is closed")
            changed = self._changed
            all_ready = True
            for slot in self._slots:
                if slot.child is not None and slot.ready:
                    with contextlib.suppress(ChildProcessError):
                        slot.child.poll()
                if slot.child is None or not slot.ready or slot.child.status is not None:
                    all_ready = False
            if all_ready:
                return self.worker_pids
            await changed.wait()

    # ------------------------------------------------------------ workers

    async def _start_worker(self, slot: _Slot) -> None:
        """Fork a worker into ``slot`` and wait until it accepts.

        Raises:
            _WorkerFailed: it exited first.
            OSError: fork() failed.
        """
        started = await _start_fork(
            _ForkRequest(
                func=_worker_main,
                args=(self._config,),
                stdio=(DEVNULL, None, None),
                channel=True,
                credentials=None,
                cwd=None,
                new_session=False,
                pass_fds=tuple(sock.fileno() for sock, _ in self._config.sockets),
                check=False,
                grace=DEFAULT_GRACE,
            )
        )
        child = started.child
        assert started.channel is not None
        slot.child = child
        try:
            slot.channel = await Stream.from_socket(started.channel, child_pid=child.pid)
            try:
                line = await slot.channel.readline()
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                line = b""
            if line != _READY:
                status = await child.wait()
                raise _WorkerFailed(f"worker {child.pid} {status} before it was ready")
        except BaseException:
            await run_to_completion(self._clear(slot, kill=True))
            raise
        slot.ready = True
        self._notify()
        logger.debug("prefork worker %d is accepting", child.pid)
        if self._closing:
            child.send_signal(signal.SIGTERM)

    async def _clear(self, slot: _Slot, *, kill: bool) -> None:
        """Empty ``slot``: stop its worker if asked (SIGKILL), reap it, close the channel."""
        child, channel = slot.child, slot.channel
        slot.child = slot.channel = None
        slot.ready = False
        self._notify()
        if channel is not None:
            await channel.aclose()
        if child is not None:
            if kill:
                child.send_signal(signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                await child.wait()

    async def _supervise(self, slot: _Slot) -> None:
        """Keep a worker in ``slot`` until the server closes (the slot starts filled)."""
        delay = 0.0
        while True:
            assert slot.child is not None
            child = slot.child
            began = self._loop.time()
            try:
                status = await child.wait()
            except ChildProcessError as exc:
                logger.error("%s", exc)
                status = None
            lived = self._loop.time() - began
            await self._clear(slot, kill=False)
            if self._closing:
                return
            delay = 0.0 if lived >= STABLE_AFTER else _longer(delay)
            logger.warning(
                "prefork worker %d %s; starting another%s",
                child.pid,
                status if status is not None else "was lost",
                f" in {delay:.1f} s" if delay else "",
            )
            while True:
                if delay:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await self._stopping.wait()
                if not self.is_serving:
                    return
                try:
                    await self._start_worker(slot)
                except (_WorkerFailed, OSError) as exc:
                    delay = _longer(delay)
                    logger.error(
                        "cannot start a prefork worker (%s); trying again in %.1f s", exc, delay
                    )
                    continue
                break

    async def _start(self) -> None:
        """Start every worker; once all accept, supervise them.

        Raises:
            RuntimeError: a worker exited before it was ready.
            OSError: fork() failed.

        The caller closes the server after a failure.
        """
        results = await asyncio.gather(
            *(self._start_worker(slot) for slot in self._slots), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            first = failures[0]
            if isinstance(first, _WorkerFailed):
                raise RuntimeError(f"serve_prefork(): {first}") from None
            raise first
        for slot in self._slots:
            slot.task = self._loop.create_task(self._supervise(slot))

    # ------------------------------------------------------------ closing

    async def serve_forever(self) -> None:
        """Wait until the server is closed; SIGTERM meanwhile drains it, then returns.

        SIGTERM (what systemd and ``kill`` send) makes the server close with the
        ``drain_timeout`` it was made with; ``serve_forever()`` then returns normally,
        so ``main()`` can end with status 0.  Cancelling it closes the server with no
        drain (the workers get SIGTERM, then SIGKILL at once) before the cancellation
        goes on, as for every aioipc server.
        """

        def on_term(signum: int) -> None:
            logger.info("SIGTERM: draining the prefork workers")
            task = self._loop.create_task(self.close(self._config.drain_timeout))
            self._term_tasks.add(task)
            task.add_done_callback(self._term_tasks.discard)

        with on_signal(signal.SIGTERM, on_term):
            await super().serve_forever()

    async def _shutdown(self, drain_timeout: float | None) -> None:
        self._stopping.set()
        self._notify()
        self._stop_listening()
        for slot in self._slots:
            if slot.child is not None:
                slot.child.send_signal(signal.SIGTERM)
        supervisors = [slot.task for slot in self._slots if slot.task is not None]
        if supervisors:
            _, pending = await asyncio.wait(supervisors, timeout=drain_timeout)
            if pending:
                logger.info(
                    "killing %d prefork workers still running after the drain", len(pending)
                )
        for slot in self._slots:
            if slot.child is not None:
                slot.child.send_signal(signal.SIGKILL)
        if supervisors:
            await asyncio.wait(supervisors)
        for slot in self._slots:
            await self._clear(slot, kill=True)


def _longer(delay: float) -> float:
    return min(max(delay * 2, FIRST_RESTART_DELAY), MAX_RESTART_DELAY)


def _running_loop_name(loop: asyncio.AbstractEventLoop) -> LoopName:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    return "uvloop" if isinstance(loop, uvloop.Loop) else "asyncio"


def _check_handler(handler: object) -> Callable[[Stream], Awaitable[object]]:
    if not callable(handler):
        raise TypeError(
            f"serve_prefork() needs an async handler(stream) function, not {handler!r}"
        )
    call: Any = getattr(handler, "__call__", None)  # noqa: B004 - objects with async __call__
    if not (inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)):
        raise TypeError(
            f"serve_prefork() needs an async handler: define it with 'async def', not {handler!r}"
        )
    return handler


def serve_prefork(
    handler: Callable[[Stream], Awaitable[object]],
    address: ListenSpec,
    *,
    workers: int | None = None,
    max_connections: int | None = None,
    loop: LoopName | None = None,
    backlog: int = 128,
    unix_mode: int = 0o600,
    drain_timeout: float | None = DEFAULT_DRAIN_TIMEOUT,
) -> _Opener[PreforkServer]:
    """Serve connections from ``workers`` processes that share one listening socket.

    ::

        async def echo(stream: aioipc.Stream) -> None:
            async for line in stream.lines():
                await stream.send_line(line)

        async def main() -> None:
            async with aioipc.serve_prefork(echo, "tcp://127.0.0.1:7000") as server:
                await server.serve_forever()      # SIGTERM drains and returns

    Each worker is a forked copy of this program with its own event loop, accepting on
    the shared socket and running ``handler(stream)`` as a task per connection (an
    exception is logged on ``aioipc.serve`` in the worker, and the worker goes on).
    A worker that dies is replaced, after a pause if it died young.  Entering the block
    or awaiting the call gives a :class:`PreforkServer` once every worker accepts.

    Args:
        handler: ``async def handler(stream: aioipc.Stream)``; the stream is closed
            when it returns.  It runs in the workers, which are forks of this process
            as it was at the call: they see the module state of that moment, not later
            changes in the parent.
        address: where to listen: ``"tcp://127.0.0.1:0"``, ``"unix:/path"``,
            ``"unix:@name"``, an :class:`aioipc.Address`, or an already-listening
            :class:`socket.socket` (socket activation), which the server takes over.
        workers: how many worker processes; None for one per CPU (``os.cpu_count()``).
        max_connections: connections one worker serves at once; at the limit it
            stops accepting and leaves new clients to the other workers.
        loop: the workers' event loop: ``"asyncio"``, ``"uvloop"`` or ``"auto"``;
            None for the kind the caller runs on.
        backlog: the listen backlog shared by the workers.
        unix_mode: the permissions of a Unix socket file the server creates.
        drain_timeout: how long connections may finish when the server is closed by
            SIGTERM, by leaving the block normally, or by the parent's death (each
            worker's own bound).  Leaving the block by an exception, or cancelling
            ``serve_forever()``, closes with no drain.

    Raises:
        TypeError: ``handler`` is not an async function; a ``workers`` or
            ``max_connections`` that is not an int; an address of the wrong type.
        ValueError: ``workers`` or ``max_connections`` < 1, an unknown ``loop`` (or
            uvloop asked for and missing), a bad ``drain_timeout``, ``backlog`` or
            ``unix_mode``, a malformed or datagram address, a socket that is not
            listening.
        FileExistsError: the Unix socket path is taken by something other than a stale
            socket.
        OSError: bind, listen or fork failed.
        RuntimeError: a worker exited before it was ready.
    """
    checked = _check_handler(handler)
    check_listen_args("serve_prefork", [address], backlog, unix_mode)
    count = check_limit("workers", workers) or os.cpu_count() or 1
    limit = check_limit("max_connections", max_connections)
    worker_drain = check_drain_timeout(drain_timeout)
    if loop is not None:
        loop_factory(loop)  # an unknown name, or uvloop missing, fails here

    async def start() -> PreforkServer:
        running = asyncio.get_running_loop()
        sockets = await open_listeners([address], backlog=backlog, unix_mode=unix_mode)
        config = _WorkerConfig(
            handler=checked,
            sockets=sockets,
            loop=loop if loop is not None else _running_loop_name(running),
            max_connections=limit,
            drain_timeout=worker_drain,
        )
        server = PreforkServer(sockets, config, workers=count)
        try:
            await server._start()
        except BaseException:
            await run_to_completion(server.close(0))
            raise
        return server

    return _Opener(start)
