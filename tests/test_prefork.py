"""serve_prefork: worker processes with their own loops on one listening socket.

Every async test runs on asyncio and on uvloop (conftest); the workers are real forks
of the test process.  Handlers answer with their worker's pid, so the tests see which
worker served them.  Spreading is made deterministic with ``max_connections=1``: a
worker holding a connection stops accepting, so the next client must go to another.
Restarts are awaited with ``wait_ready()`` after the killed worker is known dead
(``waitid(WNOWAIT)`` leaves it for the server to reap).  SIGTERM is tested on the
example server run as a program, since the test process must not get one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import IO

import anyio
import pytest
from conftest import child_processes

import aioipc
from aioipc import PreforkServer, serve_prefork

TIMEOUT = 20
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "servers" / "prefork_echo.py"

# ------------------------------------------------------------------ handlers


async def pid_then_hold(stream: aioipc.Stream) -> None:
    """Say which worker this is, then hold the connection until the client's line."""
    await stream.send_line(str(os.getpid()))
    line = await stream.readline()
    if line == b"crash":
        os._exit(3)  # the whole worker dies
    if line == b"boom":
        raise RuntimeError("this handler fails on purpose")
    await stream.send_line(b"bye " + line)


async def loop_kind(stream: aioipc.Stream) -> None:
    await stream.send_line(type(asyncio.get_running_loop()).__name__)


def not_async(stream: aioipc.Stream) -> None:
    """A plain function: serve_prefork refuses it."""


# ------------------------------------------------------------------ helpers


async def hello(server: PreforkServer) -> tuple[aioipc.Stream, int]:
    """Connect and read the greeting: the stream (held by the worker) and the pid."""
    stream = await aioipc.connect(server.addresses[0])
    return stream, int(await stream.readline())


async def ask(server: PreforkServer, line: str = "hi") -> int:
    """One whole exchange; returns the pid of the worker that served it."""
    stream, pid = await hello(server)
    async with stream:
        await stream.send_line(line)
        assert await stream.readline() == b"bye " + line.encode()
    return pid


def wait_dead(pid: int) -> None:
    """Block until our child ``pid`` has exited, leaving it for its watcher to reap."""
    with contextlib.suppress(ChildProcessError):  # the watcher has reaped it already
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


# ------------------------------------------------------------------ serving


async def test_workers_serve_and_are_our_children() -> None:
    async with asyncio.timeout(TIMEOUT):
        async with serve_prefork(pid_then_hold, "tcp://127.0.0.1:0", workers=2) as server:
            pids = server.worker_pids
            assert len(set(pids)) == 2
            assert os.getpid() not in pids
            assert set(pids) <= set(child_processes())
            assert await server.wait_ready() == pids
            for _ in range(10):
                assert await ask(server) in pids
            results = await asyncio.gather(*(ask(server, f"c{n}") for n in range(20)))
            assert set(results) <= set(pids)
        assert server.worker_pids == ()
        assert not set(pids) & set(child_processes())


async def test_connections_spread_over_the_workers() -> None:
    """With one connection per worker at most, two held clients meet two workers."""
    async with asyncio.timeout(TIMEOUT):
        async with serve_prefork(
            pid_then_hold, "tcp://127.0.0.1:0", workers=2, max_connections=1
        ) as server:
            first, first_pid = await hello(server)
            second, second_pid = await hello(server)
            assert {first_pid, second_pid} == set(server.worker_pids)
            for stream in (first, second):
                await stream.send_line("done")
                assert await stream.readline() == b"bye done"
                await stream.aclose()


async def test_workers_share_a_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "prefork.sock"
    async with asyncio.timeout(TIMEOUT):
        async with serve_prefork(
            pid_then_hold, f"unix:{path}", workers=2, unix_mode=0o660
        ) as server:
            assert stat.S_IMODE(path.lstat().st_mode) == 0o660
            # A worker that drains and exits on its own SIGTERM must leave the
            # socket file alone: it is the parent's.
            victim = server.worker_pids[0]
            os.kill(victim, signal.SIGTERM)
            wait_dead(victim)
            pids = await server.wait_ready()
            assert victim not in pids
            assert path.exists()
            assert await ask(server) in pids
    assert not path.exists()


async def test_handler_errors_and_clients_leaving_do_not_stop_a_worker(tmp_path: Path) -> None:
    # The worker logs the failure into the log file the parent set up -- not into the
    # client's connection, which may reuse the number of an fd the worker closed.
    log_path = tmp_path / "service.log"
    log_file = logging.FileHandler(log_path)
    logging.getLogger("aioipc").addHandler(log_file)
    try:
        async with asyncio.timeout(TIMEOUT):
            async with serve_prefork(pid_then_hold, "tcp://127.0.0.1:0", workers=1) as server:
                (pid,) = server.worker_pids
                stream, served_by = await hello(server)
                await stream.send_line("boom")
                with pytest.raises(anyio.EndOfStream):
                    await stream.readline()
                await stream.aclose()
                stream, _ = await hello(server)
                await stream.aclose()  # leaves while the handler waits for a line
                assert await ask(server) == served_by == pid
                assert server.worker_pids == (pid,)
    finally:
        logging.getLogger("aioipc").removeHandler(log_file)
        log_file.close()
    logged = log_path.read_text()
    assert "handler failed on connection" in logged
    assert "RuntimeError: this handler fails on purpose" in logged


@pytest.mark.parametrize("asked", [None, "asyncio", "uvloop"])
async def test_worker_loop_follows_the_parent_or_the_option(asked: str | None) -> None:
    running = type(asyncio.get_running_loop()).__name__
    expected = {None: running, "asyncio": "AsyncioEventLoop", "uvloop": "UVEventLoop"}[asked]
    async with asyncio.timeout(TIMEOUT):
        async with (
            serve_prefork(loop_kind, "tcp://127.0.0.1:0", workers=1, loop=asked) as server,  # type: ignore[arg-type]
            aioipc.connect(server.addresses[0]) as stream,
        ):
            assert await stream.readline() == expected.encode()


# ------------------------------------------------------------------ supervision


async def test_a_killed_worker_is_replaced_and_the_server_keeps_answering() -> None:
    async with asyncio.timeout(TIMEOUT):
        async with serve_prefork(pid_then_hold, "tcp://127.0.0.1:0", workers=2) as server:
            before = server.worker_pids
            victim = before[0]
            os.kill(victim, signal.SIGKILL)
            wait_dead(victim)
            after = await server.wait_ready()
            assert len(after) == 2
            assert victim not in after
            assert before[1] in after
            assert victim not in child_processes()  # reaped, not a zombie
            for _ in range(5):
                assert await ask(server) in after


async def test_a_worker_that_crashes_is_replaced() -> None:
    async with asyncio.timeout(TIMEOUT):
        async with serve_prefork(pid_then_hold, "tcp://127.0.0.1:0", workers=1) as server:
            for _ in range(2):  # twice: the second restart comes after a back-off
                stream, pid = await hello(server)
                await stream.send_line("crash")
                with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
                    await stream.readline()
                await stream.aclose()
                wait_dead(pid)
                (new_pid,) = await server.wait_ready()
                assert new_pid != pid
            assert await ask(server) == new_pid


# ------------------------------------------------------------------ closing


async def test_close_lets_connections_finish() -> None:
    async with asyncio.timeout(TIMEOUT):
        server = await serve_prefork(pid_then_hold, "tcp://127.0.0.1:0", workers=2)
        address = server.addresses[0]
        stream, pid = await hello(server)
        closing = asyncio.create_task(server.close(drain_timeout=None))
        await stream.send_line("last")
        assert await stream.readline() == b"bye last"  # the handler finished its work
        assert not closing.done()
        await stream.aclose()
        await closing
        assert server.worker_pids == ()
        assert pid not in child_processes()
        with pytest.raises(ConnectionRefusedError):
            await aioipc.connect(address)
        with pytest.raises(RuntimeError, match="closed"):
            await server.wait_ready()


async def test_close_kills_workers_after_the_drain_timeout() -> None:
    async with asyncio.timeout(TIMEOUT):
        server = await serve_prefork(pid_then_hold, "tcp://127.0.0.1:0", workers=1)
        stream, pid = await hello(server)
        await server.close(drain_timeout=0)
        assert pid not in child_processes()
        with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
            await stream.readline()
        await stream.aclose()


async def test_an_already_listening_socket_is_shared() -> None:
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    listener.bind(("::1", 0))
    listener.listen()
    async with asyncio.timeout(TIMEOUT):
        async with serve_prefork(pid_then_hold, listener, workers=2) as server:
            assert server.addresses[0].host == "::1"
            assert await ask(server) in server.worker_pids
    assert listener.fileno() == -1


# ------------------------------------------------------------------ as a program


def read_line(pipe: IO[str] | None, timeout: float) -> str:
    """One line from a subprocess pipe, failing instead of hanging."""
    assert pipe is not None
    ready, _, _ = select.select([pipe], [], [], timeout)
    assert ready, "the server said nothing"
    return pipe.readline()


def pid_gone(pid: int, timeout: float) -> bool:
    """Wait, through a pidfd, until ``pid`` (not our child) has exited."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([pidfd], [], [], timeout)[0])
    finally:
        os.close(pidfd)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_sigterm_drains_the_example_server(loop: str) -> None:
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--loop", loop, "--workers", "2"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = read_line(server.stdout, TIMEOUT).split()
        assert ready[0] == "READY"
        workers = [int(pid) for pid in ready[2:]]
        host, port = ready[1].removeprefix("tcp://").rsplit(":", 1)
        # The reader closes first: a socket with a makefile() open stays connected.
        client = socket.create_connection((host, int(port)), timeout=TIMEOUT)
        with client, client.makefile("rb") as reader:
            assert int(reader.readline().split()[1]) in workers
            server.send_signal(signal.SIGTERM)
            assert "SIGTERM: draining" in read_line(server.stderr, TIMEOUT)
            client.sendall(b"still here\n")  # the held connection is not cut
            assert reader.readline() == b"still here\r\n"
        assert server.wait(TIMEOUT) == 0
        assert server.stdout is not None
        assert server.stdout.read() == "drained\n"
        assert all(pid_gone(pid, TIMEOUT) for pid in workers)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        for pipe in (server.stdout, server.stderr):
            if pipe is not None:
                pipe.close()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_workers_leave_when_the_parent_is_killed(loop: str) -> None:
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--loop", loop, "--workers", "2"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        ready = read_line(server.stdout, TIMEOUT).split()
        workers = [int(pid) for pid in ready[2:]]
        server.kill()
        server.wait()
        # Each worker sees EOF on its socketpair and drains by itself: no orphans.
        assert all(pid_gone(pid, TIMEOUT) for pid in workers)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        if server.stdout is not None:
            server.stdout.close()


# ------------------------------------------------------------------ bad arguments


def test_bad_arguments_are_named() -> None:
    address = "tcp://127.0.0.1:0"
    with pytest.raises(TypeError, match="async handler"):
        serve_prefork(not_async, address)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="handler"):
        serve_prefork("echo", address)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="workers must be at least 1"):
        serve_prefork(loop_kind, address, workers=0)
    with pytest.raises(TypeError, match="workers"):
        serve_prefork(loop_kind, address, workers="2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_connections"):
        serve_prefork(loop_kind, address, max_connections=0)
    with pytest.raises(ValueError, match="loop"):
        serve_prefork(loop_kind, address, loop="trio")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="drain_timeout"):
        serve_prefork(loop_kind, address, drain_timeout=-1)
    with pytest.raises(ValueError, match="datagram"):
        serve_prefork(loop_kind, "udp://127.0.0.1:0")
    with pytest.raises(ValueError, match="unknown scheme"):
        serve_prefork(loop_kind, "http://127.0.0.1:0")
