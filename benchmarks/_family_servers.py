"""The server scenarios (group ``servers``): connections and messages per second.

In each, the measured side is a TCP server on 127.0.0.1 (port 0), run by the client
function in the worker process; the load comes from a separate load-generator process
(``python -m benchmarks.load_client``) that the client starts with the server's port,
so the server's process does nothing but serve. The load generator times its timed
operations after its warm-up and reports them, with their count, as one JSON line on
its stdout; the client waits for that line (the server serving all the while), closes
the server and returns the load generator's seconds. Every answer is checked by the
load generator (a wrong echo fails the measurement), and in-process servers also count
what they served, checked after the timed part.

* ``server-connect-rate``: one client makes connections one after the other: connect,
  send a 64-byte line, read it echoed back, close (the server closes first, as
  perlipc's servers do). Servers: ``aioipc.serve`` (a task per connection),
  ``asyncio.start_server``, anyio's ``create_tcp_listener`` + ``serve``, a blocking
  accept loop in one thread (the limit), ``aioipc.serve_forking(["head", "-n", "1"])``
  (``posix_spawn`` of a program whose stdin and stdout are the socket) and perlipc's
  forking server (``benchmarks/perl/perlipc_forking_server.pl``: ``fork`` + ``exec`` of
  the same ``head -n 1``, reaped by its REAPER) when ``perl`` is installed.
* ``server-prefork``: 100 clients at once, each making connections one after the
  other as above: ``aioipc.serve_prefork`` with 2 workers against single-process
  ``aioipc.serve``, ``asyncio.start_server`` and a selectors-based server. This
  machine has 2 CPUs and the load generator needs one of them part of the time, so
  the two workers never have both CPUs to themselves: the ratio shown is what a
  2-core box serving its own clients gets, a lower bound on what prefork gives when
  the clients are elsewhere. The load generator is one process with non-blocking
  sockets on one epoll, as light as the job allows.
* ``server-echo-1000``: 1,000 clients connected at once (untimed), each sending a
  64-byte message and reading its echo, again and again; the figure is messages per
  second through the server. Servers: ``aioipc.serve``, ``asyncio.start_server``,
  anyio's listener, and a selectors-based echo loop in one thread (the limit in
  Python). Both processes raise their soft ``RLIMIT_NOFILE`` for the 1,000 sockets
  (the worker restores its own).

Workload sizes: one measurement of the slowest server takes one to two seconds on
the 2-vCPU reference VM (perlipc's forking server makes about 500 connections a
second there); ``--quick`` scales the operations down (the 1,000 and 100 clients stay).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import select
import selectors
import shutil
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Literal

import anyio
import anyio.abc
from anyio.abc import SocketAttribute
from anyio.streams.buffered import BufferedByteReceiveStream

import aioipc

from ._channels import Channel
from ._impl_aioipc import AIOIPC
from ._impl_anyio import ANYIO
from ._impl_asyncio import ASYNCIO_STREAMS
from ._impl_raw import RAW
from ._machine import ROOT
from ._registry import Implementation, Scenario, Workload
from ._scenarios import per_second

HOST = "127.0.0.1"
#: The listen backlog of every server here (the load generators open up to 1,000
#: connections in a burst; a full backlog would drop SYNs and cost a 1 s retransmit).
BACKLOG = 1024
#: Clients at once in ``server-prefork`` and ``server-echo-1000``.
PREFORK_CLIENTS = 100
ECHO_CLIENTS = 1_000
#: Prefork workers: one per CPU of the reference machine.
PREFORK_WORKERS = 2
#: What ``serve_forking`` and perlipc's server run per connection: echo the first line.
HEAD_ARGV = ["head", "-n", "1"]
PERL_SERVER = Path(__file__).parent / "perl" / "perlipc_forking_server.pl"
#: How long the perl server may take to report its port.
PERL_START_TIMEOUT = 10.0
LINE_LIMIT = 65536

LoadMode = Literal["connect", "echo"]


class ServerBenchmarkError(Exception):
    """The load generator failed, or the server served a different count than asked."""


# ------------------------------------------------------------------ scenarios

SERVER_CONNECT_RATE = Scenario(
    name="server-connect-rate",
    title="Server, sequential connections (TCP loopback)",
    measures=(
        "Connections per second a server accepts and answers: one client process "
        "connects, sends a 64-byte line, reads it echoed back and closes, one "
        "connection after the other. In-process servers run a handler per connection; "
        "forking servers start `head -n 1` per connection with the socket as its stdin "
        "and stdout (aioipc.serve_forking with posix_spawn; perlipc's server with fork "
        "and exec)."
    ),
    unit="conn/s",
    higher_is_better=True,
    workload=Workload(size=64, warmup=100, iterations=1_000),
    channel="none",
    peer_role=None,
    score=per_second,
    group="servers",
)

SERVER_PREFORK = Scenario(
    name="server-prefork",
    title=f"Server, {PREFORK_CLIENTS} concurrent clients' connections (TCP loopback)",
    measures=(
        f"Connections per second under {PREFORK_CLIENTS} concurrent clients, each "
        "connecting, sending a 64-byte line, reading it echoed back and closing, over "
        f"and over: aioipc.serve_prefork with {PREFORK_WORKERS} workers against "
        "single-process servers. The load generator shares the machine's CPUs with the "
        "server, so on a 2-CPU machine prefork's workers never have both to themselves."
    ),
    unit="conn/s",
    higher_is_better=True,
    workload=Workload(size=64, warmup=600, iterations=6_000),
    channel="none",
    peer_role=None,
    score=per_second,
    group="servers",
)

SERVER_ECHO_1000 = Scenario(
    name="server-echo-1000",
    title=f"Server, {ECHO_CLIENTS:,} concurrent echo clients (TCP loopback)",
    measures=(
        f"Messages per second through an echo server with {ECHO_CLIENTS:,} clients "
        "connected at once, each sending a 64-byte message and reading its echo, over "
        "and over (one message in flight per client)."
    ),
    unit="msg/s",
    higher_is_better=True,
    workload=Workload(size=64, warmup=2_000, iterations=20_000),
    channel="none",
    peer_role=None,
    score=per_second,
    group="servers",
)

SERVER_SCENARIOS: tuple[Scenario, ...] = (SERVER_CONNECT_RATE, SERVER_PREFORK, SERVER_ECHO_1000)


# ------------------------------------------------------------------ implementations


def _perl_unavailable() -> str | None:
    return None if shutil.which("perl") else "perl is not installed"


AIOIPC_FORKING = Implementation(
    name="aioipc-forking",
    summary="aioipc.serve_forking(['head', '-n', '1']): posix_spawn of a program per "
    "connection, reaped by the child watcher",
    driver="asyncio",
)
AIOIPC_PREFORK = Implementation(
    name="aioipc-prefork",
    summary=f"aioipc.serve_prefork with {PREFORK_WORKERS} worker processes sharing the "
    "listening socket",
    driver="asyncio",
)
PERL_FORKING = Implementation(
    name="perl-forking",
    summary="perlipc's forking TCP server (fork + exec of head -n 1 per connection, "
    "REAPER on SIGCHLD)",
    driver="blocking",
    unavailable=_perl_unavailable,
)
SERVER_IMPLEMENTATIONS: tuple[Implementation, ...] = (
    AIOIPC_FORKING,
    AIOIPC_PREFORK,
    PERL_FORKING,
)


# ------------------------------------------------------------------ the load generator


def start_load(
    mode: LoadMode, port: int, workload: Workload, concurrency: int
) -> subprocess.Popen[bytes]:
    """Start the load generator against ``port``; its JSON report comes on its stdout."""
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "benchmarks.load_client", mode, str(port)),
            *("--size", str(workload.size), "--warmup", str(workload.warmup)),
            *("--iterations", str(workload.iterations), "--concurrency", str(concurrency)),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )


def finish_load(load: subprocess.Popen[bytes], workload: Workload) -> float:
    """Read the load generator's report, reap it, and return its timed seconds.

    Raises:
        ServerBenchmarkError: it failed, or reported another count than asked.
    """
    assert load.stdout is not None
    # uvloop's add_reader leaves the pipe non-blocking, and it may report it readable
    # early: read it blocking, to the end.
    os.set_blocking(load.stdout.fileno(), True)
    output, _ = load.communicate()
    if load.returncode != 0:
        raise ServerBenchmarkError(f"the load generator failed with status {load.returncode}")
    report = json.loads(output)
    if report["operations"] != workload.iterations:
        raise ServerBenchmarkError(
            f"the load generator made {report['operations']} operations, not {workload.iterations}"
        )
    return float(report["elapsed"])


def stop_load(load: subprocess.Popen[bytes]) -> None:
    """Kill and reap the load generator if it is still running (a failed measurement)."""
    if load.returncode is None:
        load.kill()
        load.wait()
    if load.stdout is not None:
        load.stdout.close()


@contextlib.contextmanager
def running_load(
    mode: LoadMode, port: int, workload: Workload, concurrency: int
) -> Iterator[subprocess.Popen[bytes]]:
    """The load generator, killed and reaped at the end whatever happens."""
    load = start_load(mode, port, workload, concurrency)
    try:
        yield load
    finally:
        stop_load(load)


async def wait_readable(fd: int) -> None:
    """Wait on the running asyncio loop until ``fd`` is readable."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    loop.add_reader(fd, ready.set_result, None)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


async def finish_load_async(load: subprocess.Popen[bytes], workload: Workload) -> float:
    """:func:`finish_load` once the report is there, the loop serving meanwhile."""
    assert load.stdout is not None
    await wait_readable(load.stdout.fileno())
    return finish_load(load, workload)


def check_served(served: int, expected: int) -> None:
    """Fail unless the server handled ``expected`` connections.

    Raises:
        ServerBenchmarkError: it handled another number.
    """
    if served != expected:
        raise ServerBenchmarkError(f"the server handled {served} connections, not {expected}")


def _connections(workload: Workload) -> int:
    return workload.warmup + workload.iterations


@contextlib.contextmanager
def enough_fds(needed: int) -> Iterator[None]:
    """Raise the soft ``RLIMIT_NOFILE`` to ``needed`` (up to the hard limit); restore it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        yield
        return
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# ------------------------------------------------------------------ raw (the limit)


def _listener() -> socket.socket:
    return socket.create_server((HOST, 0), backlog=BACKLOG)


@RAW.client(SERVER_CONNECT_RATE.name)
def raw_connect_rate(channel: Channel, workload: Workload) -> float:
    """A blocking accept loop in one thread: accept, read the line, echo it, close."""
    with _listener() as listener:
        # A timeout, so that a dead load generator fails the measurement (poll + accept).
        listener.settimeout(10.0)
        size = workload.size
        with running_load("connect", listener.getsockname()[1], workload, 1) as load:
            for _ in range(_connections(workload)):
                conn, _ = listener.accept()
                with conn:
                    line = conn.recv(size)
                    while line and not line.endswith(b"\n"):
                        more = conn.recv(size)
                        if not more:
                            break
                        line += more
                    conn.sendall(line)
            return finish_load(load, workload)


def _selectors_server(
    listener: socket.socket, load: subprocess.Popen[bytes], close_after_line: bool
) -> int:
    """Serve on one thread with ``selectors`` until the load generator is done.

    Echoes what each connection sends; with ``close_after_line`` closes a connection
    once its line is echoed. Returns the number of connections accepted.
    """
    assert load.stdout is not None
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    conns: dict[int, tuple[socket.socket, bytearray]] = {}
    accepted = 0
    try:
        selector.register(listener, selectors.EVENT_READ, None)
        selector.register(load.stdout, selectors.EVENT_READ, load)
        done = False
        while not (done and not conns):
            events = selector.select(10.0)
            if not events:
                raise ServerBenchmarkError("the selectors server saw nothing for 10 s")
            for key, _ in events:
                if key.data is None:
                    while True:
                        try:
                            conn, _ = listener.accept()
                        except BlockingIOError:
                            break
                        accepted += 1
                        conn.setblocking(False)
                        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        conns[conn.fileno()] = (conn, bytearray())
                        selector.register(conn, selectors.EVENT_READ, conn)
                    continue
                if key.data is load:
                    selector.unregister(load.stdout)
                    done = True
                    continue
                conn, pending = conns[key.fd]
                data = conn.recv(65536)
                if not data:
                    selector.unregister(conn)
                    del conns[key.fd]
                    conn.close()
                    continue
                if not close_after_line:
                    conn.sendall(data)  # 64-byte echoes into an empty buffer: never blocks
                    continue
                pending += data
                if pending.endswith(b"\n"):
                    conn.sendall(pending)
                    selector.unregister(conn)
                    del conns[key.fd]
                    conn.close()
    finally:
        for conn, _ in conns.values():
            conn.close()
        selector.close()
    return accepted


@RAW.client(SERVER_PREFORK.name)
def raw_prefork(channel: Channel, workload: Workload) -> float:
    """A ``selectors`` loop in one thread answering 100 concurrent clients' connections."""
    with _listener() as listener:
        port = listener.getsockname()[1]
        with running_load("connect", port, workload, PREFORK_CLIENTS) as load:
            served = _selectors_server(listener, load, close_after_line=True)
            elapsed = finish_load(load, workload)
    check_served(served, _connections(workload))
    return elapsed


@RAW.client(SERVER_ECHO_1000.name)
def raw_echo(channel: Channel, workload: Workload) -> float:
    """A ``selectors`` echo loop in one thread serving 1,000 connected clients."""
    with enough_fds(ECHO_CLIENTS + 256), _listener() as listener:
        port = listener.getsockname()[1]
        with running_load("echo", port, workload, ECHO_CLIENTS) as load:
            served = _selectors_server(listener, load, close_after_line=False)
            elapsed = finish_load(load, workload)
    check_served(served, ECHO_CLIENTS)
    return elapsed


# ------------------------------------------------------------------ aioipc


class _Counter:
    """How many connections a handler served."""

    def __init__(self) -> None:
        self.count = 0


def _aioipc_line_handler(counter: _Counter) -> Callable[[aioipc.Stream], Awaitable[None]]:
    async def echo_line(stream: aioipc.Stream) -> None:
        line = await stream.readline(limit=LINE_LIMIT)
        counter.count += 1
        await stream.send(line + b"\n")  # echoed as sent; the server then closes the stream

    return echo_line


async def _aioipc_echo(stream: aioipc.Stream) -> None:
    while True:
        try:
            data = await stream.receive()
        except anyio.EndOfStream:
            return
        await stream.send(data)


async def _echo_line_forever(stream: aioipc.Stream) -> None:
    """The prefork workers' handler (it runs in the workers: nothing to count here)."""
    await stream.send(await stream.readline(limit=LINE_LIMIT) + b"\n")


def _port(addresses: tuple[aioipc.Address, ...] | list[aioipc.Address]) -> int:
    port = addresses[0].port
    assert port is not None
    return port


async def _aioipc_serve(workload: Workload, mode: LoadMode, concurrency: int) -> float:
    counter = _Counter()
    handler = _aioipc_line_handler(counter) if mode == "connect" else _aioipc_echo
    async with aioipc.serve(handler, f"tcp://{HOST}:0", backlog=BACKLOG) as server:
        with running_load(mode, _port(server.addresses), workload, concurrency) as load:
            elapsed = await finish_load_async(load, workload)
    if mode == "connect":
        check_served(counter.count, _connections(workload))
    return elapsed


@AIOIPC.client(SERVER_CONNECT_RATE.name)
async def aioipc_connect_rate(channel: Channel, workload: Workload) -> float:
    """``aioipc.serve``: a task per connection reads the line, echoes it and returns."""
    return await _aioipc_serve(workload, "connect", 1)


@AIOIPC.client(SERVER_PREFORK.name)
async def aioipc_concurrent_connections(channel: Channel, workload: Workload) -> float:
    """``aioipc.serve`` in one process, answering 100 concurrent clients' connections."""
    return await _aioipc_serve(workload, "connect", PREFORK_CLIENTS)


@AIOIPC.client(SERVER_ECHO_1000.name)
async def aioipc_echo(channel: Channel, workload: Workload) -> float:
    """``aioipc.serve`` with an echo handler (``receive`` / ``send``), 1,000 clients."""
    with enough_fds(ECHO_CLIENTS + 256):
        return await _aioipc_serve(workload, "echo", ECHO_CLIENTS)


@AIOIPC_FORKING.client(SERVER_CONNECT_RATE.name)
async def aioipc_forking_connect_rate(channel: Channel, workload: Workload) -> float:
    """``aioipc.serve_forking(["head", "-n", "1"])``: a program per connection."""
    async with aioipc.serve_forking(HEAD_ARGV, f"tcp://{HOST}:0", backlog=BACKLOG) as server:
        with running_load("connect", _port(server.addresses), workload, 1) as load:
            return await finish_load_async(load, workload)


@AIOIPC_PREFORK.client(SERVER_PREFORK.name)
async def aioipc_prefork(channel: Channel, workload: Workload) -> float:
    """``aioipc.serve_prefork`` with 2 workers, 100 concurrent clients' connections."""
    async with aioipc.serve_prefork(
        _echo_line_forever, f"tcp://{HOST}:0", workers=PREFORK_WORKERS, backlog=BACKLOG
    ) as server:
        with running_load("connect", _port(server.addresses), workload, PREFORK_CLIENTS) as load:
            return await finish_load_async(load, workload)


# ------------------------------------------------------------------ asyncio (the baseline)


async def _asyncio_serve(workload: Workload, mode: LoadMode, concurrency: int) -> float:
    counter = _Counter()

    echoing: set[asyncio.Task[object]] = set()  # the echo handlers, waited for at the end

    async def echo_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        counter.count += 1
        writer.write(line)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        echoing.add(task)
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(
        echo_line if mode == "connect" else echo, HOST, 0, backlog=BACKLOG
    )
    async with server:
        port = server.sockets[0].getsockname()[1]
        with running_load(mode, port, workload, concurrency) as load:
            elapsed = await finish_load_async(load, workload)
        # start_server's close does not wait for the handlers: let them see their EOF.
        if echoing:
            await asyncio.wait(echoing)
    if mode == "connect":
        check_served(counter.count, _connections(workload))
    return elapsed


@ASYNCIO_STREAMS.client(SERVER_CONNECT_RATE.name)
async def asyncio_connect_rate(channel: Channel, workload: Workload) -> float:
    """``asyncio.start_server``: readline, write + drain, close + wait_closed."""
    return await _asyncio_serve(workload, "connect", 1)


@ASYNCIO_STREAMS.client(SERVER_PREFORK.name)
async def asyncio_concurrent_connections(channel: Channel, workload: Workload) -> float:
    """``asyncio.start_server`` in one process, 100 concurrent clients' connections."""
    return await _asyncio_serve(workload, "connect", PREFORK_CLIENTS)


@ASYNCIO_STREAMS.client(SERVER_ECHO_1000.name)
async def asyncio_echo(channel: Channel, workload: Workload) -> float:
    """``asyncio.start_server`` echoing with read / write + drain, 1,000 clients."""
    with enough_fds(ECHO_CLIENTS + 256):
        return await _asyncio_serve(workload, "echo", ECHO_CLIENTS)


# ------------------------------------------------------------------ anyio


async def _anyio_serve(workload: Workload, mode: LoadMode, concurrency: int) -> float:
    counter = _Counter()

    async def echo_line(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            line = await BufferedByteReceiveStream(stream).receive_until(b"\n", LINE_LIMIT)
            counter.count += 1
            await stream.send(line + b"\n")

    async def echo(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            with contextlib.suppress(anyio.BrokenResourceError):
                async for data in stream:
                    await stream.send(data)

    listener = await anyio.create_tcp_listener(local_host=HOST, local_port=0, backlog=BACKLOG)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, echo_line if mode == "connect" else echo)
        port = listener.extra(SocketAttribute.local_port)
        with running_load(mode, port, workload, concurrency) as load:
            assert load.stdout is not None
            await anyio.wait_readable(load.stdout)
            elapsed = finish_load(load, workload)
        group.cancel_scope.cancel()
    if mode == "connect":
        check_served(counter.count, _connections(workload))
    return elapsed


@ANYIO.client(SERVER_CONNECT_RATE.name)
async def anyio_connect_rate(channel: Channel, workload: Workload) -> float:
    """anyio ``create_tcp_listener`` + ``serve``: receive_until, send, aclose."""
    return await _anyio_serve(workload, "connect", 1)


@ANYIO.client(SERVER_ECHO_1000.name)
async def anyio_echo(channel: Channel, workload: Workload) -> float:
    """anyio ``create_tcp_listener`` + ``serve`` echoing each chunk, 1,000 clients."""
    with enough_fds(ECHO_CLIENTS + 256):
        return await _anyio_serve(workload, "echo", ECHO_CLIENTS)


# ------------------------------------------------------------------ perlipc


@PERL_FORKING.client(SERVER_CONNECT_RATE.name)
def perl_connect_rate(channel: Channel, workload: Workload) -> float:
    """perlipc's forking server, in a process of its own, fork + exec per connection."""
    perl = subprocess.Popen(
        ["perl", "-T", str(PERL_SERVER), "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert perl.stderr is not None
        ready, _, _ = select.select([perl.stderr], [], [], PERL_START_TIMEOUT)
        first = perl.stderr.readline() if ready else b""
        if not first.startswith(b"READY "):
            raise ServerBenchmarkError(f"perlipc's server did not start: {first!r}")
        with running_load("connect", int(first.split()[1]), workload, 1) as load:
            return finish_load(load, workload)
    finally:
        perl.terminate()
        perl.wait()
        if perl.stderr is not None:
            perl.stderr.close()
