"""serve_forking: a child per connection, exec'd or forked, reaped by the child watcher.

Every async test runs on asyncio and on uvloop (conftest).  Children are real: ``cat``
and ``perl`` exec'd with the client socket as stdin and stdout, or functions of this
module run in a fork of the test process.  Clients talk through aioipc.connect; the
tests act only on what they have read (a child greets before the test goes on), never
on sleeps.  The autouse leak fixture fails a test that leaves a child, a zombie, an fd
or a signal disposition behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import sys
from pathlib import Path

import anyio
import pytest
from conftest import child_processes

import aioipc
from aioipc import DEVNULL, PIPE, STDOUT, ForkingServer, serve_forking
from aioipc._children import _sigchld_fallback

TIMEOUT = 20

# ------------------------------------------------------------------ what children run


def greet_then_echo_upper(conn: socket.socket) -> None:
    """perlipc's spawned child: stdout is the client; greet, then answer each line."""
    print(f"Hello from {os.getpid()}", flush=True)
    for line in sys.stdin:
        print(line.strip().upper(), flush=True)


def _server_children() -> int:
    """How many children (running or zombie) the server -- our parent -- has now."""
    parent = os.getppid()
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2 :].split()[1]) == parent:
            count += 1
    return count


def greet_with_siblings_then_wait(conn: socket.socket) -> None:
    """Report pid and the server's child count at start, then wait for the test's line."""
    conn.sendall(f"{os.getpid()} {_server_children()}\n".encode())
    conn.makefile("rb").readline()


async def async_echo(stream: aioipc.Stream) -> int:
    """The async form: a Stream on a fresh loop in the child; the result is the status."""
    await stream.send_line(f"async {os.getpid()}")
    async for line in stream.lines():
        await stream.send_line(line[::-1])
    return 3


def crash(conn: socket.socket) -> None:
    raise RuntimeError("this child fails on purpose")


# ------------------------------------------------------------------ helpers


async def exchange(server: ForkingServer, line: bytes) -> list[bytes]:
    """Connect, send one line (none if empty) and EOF, read every line until the end.

    A child that never reads its input must be sent none: closing a socket with unread
    data makes the kernel reset the connection, and the client may lose the output.
    """
    async with aioipc.connect(server.addresses[0]) as stream:
        if line:
            await stream.send_line(line)
        await stream.send_eof()
        return [received async for received in stream.lines()]


@pytest.fixture
def perl_program(tmp_path: Path) -> Path:
    """perlipc's spawned child in Perl: greet, then upper-case each line (stdin/stdout)."""
    path = tmp_path / "greet.pl"
    path.write_text(
        "$| = 1;\n"
        'print "Hello there, it\'s now ", scalar localtime, "\\n";\n'
        "while (<STDIN>) { print uc }\n"
    )
    return path


# ------------------------------------------------------------------ argv children


async def test_cat_echoes_over_tcp() -> None:
    async with asyncio.timeout(TIMEOUT):
        async with serve_forking(["cat"], "tcp://127.0.0.1:0") as server:
            assert server.addresses[0].port != 0
            assert await exchange(server, b"ping") == [b"ping"]
            assert await exchange(server, b"pong") == [b"pong"]
        assert not server.is_serving
        assert server.child_pids == ()


async def test_perl_program_over_a_unix_socket(tmp_path: Path, perl_program: Path) -> None:
    path = tmp_path / "catsock"
    async with asyncio.timeout(TIMEOUT):
        async with serve_forking(["perl", str(perl_program)], f"unix:{path}") as server:
            assert stat.S_IMODE(path.lstat().st_mode) == 0o600
            lines = await exchange(server, b"fortune")
            assert lines[0].startswith(b"Hello there, it's now ")
            assert lines[1:] == [b"FORTUNE"]
    assert not path.exists()


async def test_stderr_can_go_to_the_client() -> None:
    argv = ["perl", "-e", 'print STDERR "to stderr\\n"; print "to stdout\\n"']
    async with asyncio.timeout(TIMEOUT):
        async with serve_forking(argv, "tcp://127.0.0.1:0", stderr=STDOUT) as server:
            assert sorted(await exchange(server, b"")) == [b"to stderr", b"to stdout"]


async def test_env_reaches_the_program() -> None:
    argv = ["perl", "-e", 'print "$ENV{GREETING}\\n"']
    env = {"GREETING": "hi from env", "PATH": os.environ["PATH"]}
    async with asyncio.timeout(TIMEOUT):
        async with serve_forking(argv, "tcp://127.0.0.1:0", env=env) as server:
            assert await exchange(server, b"") == [b"hi from env"]


# ------------------------------------------------------------------ function children


async def test_sync_handler_has_the_socket_as_stdin_and_stdout() -> None:
    async with asyncio.timeout(TIMEOUT):
        async with (
            serve_forking(greet_then_echo_upper, "tcp://127.0.0.1:0") as server,
            aioipc.connect(server.addresses[0]) as stream,
        ):
            greeting = await stream.readline()
            pid = int(greeting.split()[-1])
            assert pid != os.getpid()
            assert server.child_pids == (pid,)
            assert pid in child_processes()
            await stream.send_line("one")
            assert await stream.readline() == b"ONE"
            await stream.send_eof()
            with pytest.raises(anyio.EndOfStream):
                await stream.readline()


async def test_async_handler_gets_a_stream() -> None:
    async with asyncio.timeout(TIMEOUT):
        async with (
            serve_forking(async_echo, "unix:@aioipc-forking-async") as server,
            aioipc.connect(server.addresses[0]) as stream,
        ):
            greeting = await stream.readline()
            assert greeting.startswith(b"async ")
            assert int(greeting.split()[1]) != os.getpid()
            await stream.send_line("stressed")
            assert await stream.readline() == b"desserts"


async def test_a_failing_child_does_not_stop_the_server() -> None:
    async with asyncio.timeout(TIMEOUT):
        async with serve_forking(crash, "tcp://127.0.0.1:0", stderr=DEVNULL) as server:
            assert await exchange(server, b"") == []
            assert await exchange(server, b"") == []
            assert server.is_serving


# ------------------------------------------------------------------ many clients


@pytest.mark.parametrize("mode", ["argv", "function"])
async def test_many_sequential_and_concurrent_clients(mode: str) -> None:
    handler = ["cat"] if mode == "argv" else greet_then_echo_upper

    async def one(number: int) -> None:
        line = f"client {number}".encode()
        lines = await exchange(server, line)
        if mode == "argv":
            assert lines == [line]
        else:
            assert [lines[0].split()[0], *lines[1:]] == [b"Hello", line.upper()]

    async with asyncio.timeout(TIMEOUT):
        async with serve_forking(handler, "tcp://127.0.0.1:0", max_children=8) as server:
            for number in range(20):
                await one(number)
            await asyncio.gather(*(one(number) for number in range(20, 60)))


async def test_max_children_holds_back_the_next_client() -> None:
    async with asyncio.timeout(TIMEOUT):
        async with serve_forking(
            greet_with_siblings_then_wait, "tcp://127.0.0.1:0", max_children=2
        ) as server:
            streams = [await aioipc.connect(server.addresses[0]) for _ in range(3)]
            try:
                first = (await streams[0].readline()).split()
                second = (await streams[1].readline()).split()
                assert int(first[1]) <= 2
                assert int(second[1]) <= 2
                assert len(server.child_pids) == 2
                assert len(child_processes()) == 2
                # Release the first child; only then may the third client be served.
                await streams[0].send_line("go")
                third = (await streams[2].readline()).split()
                assert int(third[1]) <= 2
                assert int(first[0]) not in server.child_pids
                assert len(server.child_pids) <= 2
                await streams[1].send_line("go")
                await streams[2].send_line("go")
            finally:
                for stream in streams:
                    await stream.aclose()


@pytest.mark.parametrize("mode", ["argv", "function"])
async def test_a_signal_flood_does_not_break_accept(mode: str) -> None:
    """perlipc restarts accept() on EINTR; here a flood of signals changes nothing."""
    received = 0

    def count(signum: int) -> None:
        nonlocal received
        received += 1

    # Bursts of 20 signals, 1 ms apart: thousands a second.  An unbounded flood makes
    # asyncio's loop spend seconds on signal wake-ups alone, and proves nothing more.
    flood = (
        "$| = 1; print qq(READY\\n); "
        f"while (1) {{ kill('USR1', {os.getpid()}) or exit for 1..20; "
        "select(undef, undef, undef, 0.001) }"
    )
    handler = ["cat"] if mode == "argv" else greet_then_echo_upper
    async with asyncio.timeout(TIMEOUT):
        with aioipc.on_signal(signal.SIGUSR1, count):
            async with aioipc.open_process(["perl", "-e", flood], stdout=PIPE) as flooder:
                assert flooder.stdout is not None
                assert await flooder.stdout.readline() == b"READY"
                async with serve_forking(handler, "tcp://127.0.0.1:0") as server:
                    for number in range(10):
                        lines = await exchange(server, f"n{number}".encode())
                        assert lines[-1].lower() == f"n{number}".encode()
                    results = await asyncio.gather(
                        *(exchange(server, f"c{n}".encode()) for n in range(20))
                    )
                    assert [r[-1].lower() for r in results] == [
                        f"c{n}".encode() for n in range(20)
                    ]
                    assert received > 0  # the flood was on while we were serving
                flooder.terminate()
                await flooder.wait()


async def test_children_are_reaped_through_the_sigchld_fallback() -> None:
    """Without pidfds the watcher polls only its own pids on SIGCHLD (no REAPER's -1)."""
    async with asyncio.timeout(TIMEOUT):
        with _sigchld_fallback():
            async with serve_forking(["cat"], "tcp://127.0.0.1:0") as server:
                for number in range(10):
                    assert await exchange(server, str(number).encode()) == [str(number).encode()]
        assert server.child_pids == ()


# ------------------------------------------------------------------ closing


async def test_close_waits_for_children_to_finish() -> None:
    async with asyncio.timeout(TIMEOUT):
        server = await serve_forking(greet_with_siblings_then_wait, "tcp://127.0.0.1:0")
        address = server.addresses[0]
        async with aioipc.connect(address) as stream:
            pid = int((await stream.readline()).split()[0])
            closing = asyncio.create_task(server.close(drain_timeout=None))
            while server.is_serving:  # let the task enter close()
                await asyncio.sleep(0)
            # Accepting stopped at once; the running child is left to finish.
            with pytest.raises(ConnectionRefusedError):
                await aioipc.connect(address)
            assert not server.is_serving
            assert not closing.done()
            assert server.child_pids == (pid,)
            await stream.send_line("done")
            await closing
            assert pid not in child_processes()


async def test_close_stops_children_after_the_drain_timeout() -> None:
    stubborn = "$SIG{TERM} = 'IGNORE'; $| = 1; print qq(READY\\n); sleep 1 while 1;"
    async with asyncio.timeout(TIMEOUT):
        async with serve_forking(["cat"], "tcp://127.0.0.1:0") as polite:
            cat_client = await aioipc.connect(polite.addresses[0])
            await cat_client.send_line("hold")
            assert await cat_client.readline() == b"hold"
            await polite.close(drain_timeout=0)  # cat gets SIGTERM and dies
            with pytest.raises(anyio.EndOfStream):
                await cat_client.readline()
            await cat_client.aclose()
        server = await serve_forking(["perl", "-e", stubborn], "tcp://127.0.0.1:0", grace=0.1)
        async with aioipc.connect(server.addresses[0]) as stream:
            assert await stream.readline() == b"READY"
            (pid,) = server.child_pids
            await server.close(drain_timeout=0)  # SIGTERM ignored: SIGKILL after grace
            assert pid not in child_processes()
            with pytest.raises(anyio.EndOfStream):
                await stream.readline()


async def test_cancelling_serve_forever_closes_the_server() -> None:
    async with asyncio.timeout(TIMEOUT):
        server = await serve_forking(["cat"], "tcp://127.0.0.1:0")
        task = asyncio.create_task(server.serve_forever())
        assert await exchange(server, b"hi") == [b"hi"]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not server.is_serving
        assert server.sockets == []


async def test_an_already_listening_socket_is_taken_over() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    async with asyncio.timeout(TIMEOUT):
        async with serve_forking(["cat"], listener) as server:
            assert server.addresses[0].port == port
            assert server.sockets == [listener]
            assert await exchange(server, b"activated") == [b"activated"]
    assert listener.fileno() == -1


# ------------------------------------------------------------------ bad arguments


def test_bad_arguments_are_named() -> None:
    address = "tcp://127.0.0.1:0"
    with pytest.raises(TypeError, match="no shell"):
        serve_forking("cat -v", address)
    with pytest.raises(ValueError, match="argv list is empty"):
        serve_forking([], address)
    with pytest.raises(FileNotFoundError):
        serve_forking(["/nonexistent/aioipc-program"], address)
    with pytest.raises(TypeError, match="handler function or an argv list"):
        serve_forking(42, address)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_children must be at least 1"):
        serve_forking(["cat"], address, max_children=0)
    with pytest.raises(TypeError, match="max_children"):
        serve_forking(["cat"], address, max_children=True)
    with pytest.raises(ValueError, match="stderr=PIPE"):
        serve_forking(["cat"], address, stderr=PIPE)
    with pytest.raises(ValueError, match="env= is for an argv program"):
        serve_forking(crash, address, env={})
    with pytest.raises(ValueError, match="grace"):
        serve_forking(["cat"], address, grace=-1)
    with pytest.raises(ValueError, match="datagram"):
        serve_forking(["cat"], "udp://127.0.0.1:0")
    with pytest.raises(ValueError, match="backlog"):
        serve_forking(["cat"], address, backlog=-1)
    with pytest.raises(ValueError, match="unix_mode"):
        serve_forking(["cat"], "unix:/tmp/x", unix_mode=0o10000)
    unbound = socket.socket()
    try:
        with pytest.raises(ValueError, match="not listening"):
            serve_forking(["cat"], unbound)
    finally:
        unbound.close()


async def test_close_rejects_a_negative_drain_timeout() -> None:
    async with serve_forking(["cat"], "tcp://127.0.0.1:0") as server:
        with pytest.raises(ValueError, match="drain_timeout"):
            await server.close(drain_timeout=-1)
