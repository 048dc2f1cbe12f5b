"""connect() and serve(): real TCP and Unix sockets, real peers (perl), on both loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import select
import shutil
import socket
import stat
import struct
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import SocketAttribute

import aioipc

PERL_DIR = Path(__file__).resolve().parent / "interop" / "perl"
LINES = ("one", "two", "three")
needs_perl = pytest.mark.skipif(shutil.which("perl") is None, reason="needs perl")


def _ipv6_loopback_problem() -> str | None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError as error:
        return f"the kernel has no IPv6 on the loopback interface (bind ::1: {error})"
    return None


def _abstract() -> str:
    return f"unix:@aioipc-test-{os.getpid()}-{uuid.uuid4().hex}"


async def echo(stream: aioipc.Stream) -> None:
    async for line in stream.lines():
        await stream.send_line(b"echo " + line)


@contextlib.asynccontextmanager
async def log_events(logger_name: str = "aioipc.serve") -> AsyncIterator[asyncio.Queue[str]]:
    """Each record the logger emits, as a message in a queue (to wait on, not sleep)."""
    queue: asyncio.Queue[str] = asyncio.Queue()

    class ToQueue(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            queue.put_nowait(record.getMessage())

    handler = ToQueue()
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield queue
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def accept_queue_length(listener: socket.socket) -> int:
    """How many connections the kernel holds for ``listener``, not yet accepted.

    For a listening TCP socket, ``TCP_INFO``'s ``tcpi_unacked`` is the accept queue's
    length (``sk_ack_backlog``); it follows 8 one-byte fields and 4 ``u32``s.
    """
    info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    (unacked,) = struct.unpack_from("I", info, 24)
    return int(unacked)


# The four kinds of address


@pytest.mark.parametrize("kind", ["ipv4", "ipv6", "unix", "abstract"])
async def test_connect_and_serve_on_every_kind_of_address(tmp_path: Path, kind: str) -> None:
    if kind == "ipv6" and (problem := _ipv6_loopback_problem()):
        pytest.skip(problem)
    address = {
        "ipv4": "tcp://127.0.0.1:0",
        "ipv6": "tcp://[::1]:0",
        "unix": f"unix:{tmp_path}/echo.sock",
        "abstract": _abstract(),
    }[kind]
    peers: list[object] = []

    async def handler(stream: aioipc.Stream) -> None:
        peers.append(stream.extra(SocketAttribute.remote_address))
        await echo(stream)

    async with aioipc.serve(handler, address) as server:
        [bound] = server.addresses
        assert bound.scheme == "tcp" or bound.is_unix
        if not bound.is_unix:
            assert bound.port != 0
        async with aioipc.connect(bound) as client:
            await client.send_line("hello")
            assert await client.readline() == b"echo hello"
            local = client.extra(SocketAttribute.local_address)
        if not bound.is_unix:
            assert peers == [local]
    if kind == "unix":
        assert not (tmp_path / "echo.sock").exists()


async def test_internet_lines_end_in_crlf_and_unix_lines_in_lf(tmp_path: Path) -> None:
    async def greet(stream: aioipc.Stream) -> None:
        await stream.send_line("hi")
        await stream.readline()  # "\n" or "\r\n" in, either way

    loop = asyncio.get_running_loop()
    for address, expected in (
        ("tcp://127.0.0.1:0", b"hi\r\n"),
        (f"unix:{tmp_path}/s", b"hi\n"),
    ):
        async with aioipc.serve(greet, address) as server:
            [bound] = server.addresses
            where: str | tuple[str, int | None]
            if bound.is_unix:
                raw, where = socket.socket(socket.AF_UNIX), str(bound.path)
            else:
                raw, where = socket.socket(socket.AF_INET), (str(bound.host), bound.port)
            with raw:
                raw.setblocking(False)
                await loop.sock_connect(raw, where)
                received = b""
                while not received.endswith(b"\n"):
                    received += await loop.sock_recv(raw, 100)
                assert received == expected
                await loop.sock_sendall(raw, b"bare newline\n")


@pytest.mark.parametrize("kind", ["ipv4", "ipv6"])
async def test_tcp_streams_have_nodelay_on_both_sides(kind: str) -> None:
    if kind == "ipv6" and (problem := _ipv6_loopback_problem()):
        pytest.skip(problem)
    server_side: asyncio.Queue[aioipc.Stream] = asyncio.Queue()

    async def handler(stream: aioipc.Stream) -> None:
        server_side.put_nowait(stream)
        await stream.receive()  # held open until the client leaves (EndOfStream)

    def nodelay(stream: aioipc.Stream) -> int:
        # Asked of the kernel through the stream's own fd, not of a Python object.
        with socket.socket(fileno=os.dup(stream.extra(aioipc.StreamAttribute.fd))) as sock:
            return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)

    address = "tcp://127.0.0.1:0" if kind == "ipv4" else "tcp://[::1]:0"
    serving = aioipc.serve(handler, address)
    async with serving as server, aioipc.connect(server.addresses[0]) as client:
        accepted = await server_side.get()
        assert nodelay(client) != 0
        assert nodelay(accepted) != 0
        raw = accepted.extra(SocketAttribute.raw_socket)
        assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


async def test_connect_with_host_and_port_keywords_and_eol() -> None:
    async with aioipc.serve(echo, "tcp://127.0.0.1:0") as server:
        port = server.addresses[0].port
        async with aioipc.connect(host="127.0.0.1", port=str(port), eol=b"\n") as client:
            assert client.eol == b"\n"
            await client.send_line("x")
            assert await client.readline() == b"echo x"
        # Awaited rather than entered: the caller closes it.
        client = await aioipc.connect(f"tcp://localhost:{port}", timeout=30)
        try:
            assert client.eol == b"\r\n"
        finally:
            await client.aclose()


async def test_server_attributes() -> None:
    server = await aioipc.serve(echo, "tcp://127.0.0.1:0")
    serving = [server.is_serving]
    try:
        assert server.connection_count == 0
        [sock] = server.sockets
        assert server.addresses == [aioipc.Address("tcp", "127.0.0.1", sock.getsockname()[1])]
        assert "serving" in repr(server)
    finally:
        await server.close()
    serving.append(server.is_serving)
    assert serving == [True, False]
    assert server.sockets == []
    await server.close()  # again: nothing to do


# Many clients


@pytest.fixture
def enough_fds() -> Iterator[None]:
    """At least 4096 fds for this test (within the hard limit), restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 2200:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below the 2,200 fds this needs")
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


CLIENTS = 1000


@pytest.mark.parametrize("kind", ["tcp", "unix"])
@pytest.mark.usefixtures("enough_fds")
async def test_a_thousand_clients_connected_at_once_are_all_served(
    tmp_path: Path, kind: str
) -> None:
    # The default backlog (128) is far below 1,000: clients beyond it wait for the
    # accept loop (TCP SYNs are retried, Unix connects get EAGAIN and are retried by
    # connect()); none may be refused.  Every handler holds its connection until all
    # 1,000 are being handled at the same time, then each echoes its client's line.
    active = 0
    peak = 0
    all_connected = asyncio.Event()
    release = asyncio.Event()

    async def handler(stream: aioipc.Stream) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if active == CLIENTS:
            all_connected.set()
        try:
            line = await stream.readline()
            await release.wait()
            await stream.send_line(b"echo " + line)
        finally:
            active -= 1

    async def client(address: aioipc.Address, number: int) -> bytes:
        async with aioipc.connect(address) as stream:
            await stream.send_line(str(number))
            return await stream.readline()

    address = "tcp://127.0.0.1:0" if kind == "tcp" else f"unix:{tmp_path}/s"
    async with aioipc.serve(handler, address) as server:
        [bound] = server.addresses
        clients = asyncio.ensure_future(
            asyncio.gather(*(client(bound, n) for n in range(CLIENTS)))
        )
        waiting = asyncio.ensure_future(all_connected.wait())
        first: list[asyncio.Future[Any]] = [clients, waiting]
        await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
        if clients.done():  # a client failed (refused?) before all were connected
            waiting.cancel()
            clients.result()
            pytest.fail("the clients ended before all were connected")
        assert server.connection_count == CLIENTS
        assert not clients.done()  # every client still waits for its echo
        release.set()
        answers = await clients
    assert answers == [b"echo %d" % n for n in range(CLIENTS)]
    assert peak == CLIENTS
    assert active == 0


# Clients that misbehave


async def test_a_client_that_disconnects_mid_line(tmp_path: Path) -> None:
    lines: asyncio.Queue[list[bytes]] = asyncio.Queue()

    async def handler(stream: aioipc.Stream) -> None:
        lines.put_nowait([line async for line in stream.lines()])

    async with aioipc.serve(handler, f"unix:{tmp_path}/s") as server:
        async with aioipc.connect(server.addresses[0]) as client:
            await client.send(b"whole\nhalf a li")
        assert await lines.get() == [b"whole", b"half a li"]
        async with aioipc.connect(server.addresses[0]) as client:
            await client.send(b"next\n")
        assert await lines.get() == [b"next"]


async def test_an_over_long_line_fails_its_handler_only(caplog: pytest.LogCaptureFixture) -> None:
    async def handler(stream: aioipc.Stream) -> None:
        while True:
            line = await stream.readline(limit=100)
            await stream.send_line(b"echo " + line)

    async with aioipc.serve(handler, "tcp://127.0.0.1:0") as server:
        [address] = server.addresses
        async with aioipc.connect(address) as good, aioipc.connect(address) as bad:
            await good.send_line("before")
            assert await good.readline() == b"echo before"
            await bad.send(b"x" * 1000)
            with pytest.raises(anyio.EndOfStream):
                await bad.readline()  # the server closed it
            await good.send_line("after")
            assert await good.readline() == b"echo after"
    [record] = [r for r in caplog.records if r.name == "aioipc.serve"]
    assert record.levelno == logging.ERROR
    assert "handler failed on connection to tcp://127.0.0.1:" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], aioipc.LineTooLong)


async def test_a_handler_exception_is_logged_with_the_peer_and_the_server_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(stream: aioipc.Stream) -> None:
        line = await stream.readline()
        if line == b"fail":
            raise RuntimeError("the handler gave up")
        await stream.send_line(b"ok " + line)

    async with aioipc.serve(handler, "tcp://127.0.0.1:0") as server:
        [address] = server.addresses
        async with aioipc.connect(address) as client:
            peer = client.extra(SocketAttribute.local_address)
            await client.send_line("fail")
            with pytest.raises(anyio.EndOfStream):
                await client.readline()
        async with aioipc.connect(address) as client:
            await client.send_line("again")
            assert await client.readline() == b"ok again"
    [record] = [r for r in caplog.records if r.name == "aioipc.serve"]
    assert record.levelno == logging.ERROR
    assert f"from {peer[0]}:{peer[1]}" in record.getMessage()
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "the handler gave up"


async def test_a_client_that_leaves_early_is_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done = asyncio.Event()

    async def handler(stream: aioipc.Stream) -> None:
        try:
            await stream.readline()
            await stream.readline()  # EndOfStream: the client left; not logged
        finally:
            done.set()

    async with aioipc.serve(handler, _abstract()) as server:
        async with aioipc.connect(server.addresses[0]) as client:
            await client.send_line("one")
        await done.wait()
    assert not [r for r in caplog.records if r.name == "aioipc.serve"]


# Closing


async def _wait_until_not_listening(server: aioipc.Server) -> None:
    while server.sockets:
        await asyncio.sleep(0)


async def test_close_lets_a_handler_in_progress_finish() -> None:
    started = asyncio.Event()
    finished: list[bytes] = []

    async def handler(stream: aioipc.Stream) -> None:
        started.set()
        line = await stream.readline()
        await stream.send_line(b"done " + line)
        finished.append(line)

    server = await aioipc.serve(handler, "tcp://127.0.0.1:0")
    [address] = server.addresses
    async with aioipc.connect(address) as client:
        await started.wait()
        closing = asyncio.create_task(server.close(drain_timeout=60))
        await _wait_until_not_listening(server)
        assert not server.is_serving
        with pytest.raises(ConnectionRefusedError):
            await aioipc.connect(address)
        await client.send_line("work")
        assert await client.readline() == b"done work"
        await closing
    assert finished == [b"work"]


async def test_close_cancels_a_handler_that_outlives_the_drain() -> None:
    started = asyncio.Event()
    outcome: list[str] = []

    async def handler(stream: aioipc.Stream) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    server = await aioipc.serve(handler, "tcp://127.0.0.1:0")
    async with aioipc.connect(server.addresses[0]) as client:
        await started.wait()
        await server.close(drain_timeout=0.01)
        assert outcome == ["cancelled"]
        with pytest.raises(anyio.EndOfStream):
            await client.receive()
    assert server.connection_count == 0


async def test_a_cancelled_handler_whose_peer_never_reads_does_not_hang_close() -> None:
    sending = asyncio.Event()

    async def flood(stream: aioipc.Stream) -> None:
        sending.set()
        while True:
            await stream.send(b"x" * 65536)

    server = await aioipc.serve(flood, "tcp://127.0.0.1:0")
    async with aioipc.connect(server.addresses[0]):  # never reads
        await sending.wait()
        await server.close(drain_timeout=0)
        assert server.connection_count == 0


async def test_leaving_the_block_by_an_error_cancels_handlers_at_once() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handler(stream: aioipc.Stream) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    clients: list[aioipc.Stream] = []

    async def fail_while_serving() -> None:
        async with aioipc.serve(handler, _abstract()) as server:
            clients.append(await aioipc.connect(server.addresses[0]))
            await started.wait()
            raise KeyError("boom")

    with pytest.raises(KeyError):
        await fail_while_serving()
    assert cancelled.is_set()
    await clients[0].aclose()


async def test_serve_forever_returns_when_closed_and_closes_when_cancelled() -> None:
    async def served_while_waiting(server: aioipc.Server, forever: asyncio.Task[None]) -> None:
        # A whole exchange takes the loop through many iterations (connect, accept,
        # read, write): serve_forever() is running and has not returned meanwhile.
        async with aioipc.connect(server.addresses[0]) as client:
            await client.send_line("still serving")
            assert await client.readline() == b"echo still serving"
        assert not forever.done()

    server = await aioipc.serve(echo, "tcp://127.0.0.1:0")
    forever = asyncio.create_task(server.serve_forever())
    await served_while_waiting(server, forever)
    await server.close()
    await forever

    server = await aioipc.serve(echo, "tcp://127.0.0.1:0")
    forever = asyncio.create_task(server.serve_forever())
    await served_while_waiting(server, forever)
    forever.cancel()
    with pytest.raises(asyncio.CancelledError):
        await forever
    assert not server.is_serving
    assert server.sockets == []


async def test_a_handler_may_close_its_own_server() -> None:
    # The close waits for handlers and cancels them after the drain; a handler that is
    # itself waiting in close() must not wait for its own end.
    servers: list[aioipc.Server] = []
    finished: list[str] = []

    async def quit_on_request(stream: aioipc.Stream) -> None:
        await stream.send_line(await stream.readline())
        try:
            await servers[0].close(drain_timeout=0)
        finally:
            finished.append("handler")

    async with asyncio.timeout(10):
        server = await aioipc.serve(quit_on_request, "tcp://127.0.0.1:0")
        servers.append(server)
        async with aioipc.connect(server.addresses[0]) as client:
            await client.send_line("quit")
            assert await client.readline() == b"quit"
            await server.serve_forever()
        assert not server.is_serving
        assert server.sockets == []
        assert finished == ["handler"]


async def test_bad_drain_timeout() -> None:
    async with aioipc.serve(echo, "tcp://127.0.0.1:0") as server:
        with pytest.raises(ValueError, match="drain_timeout must be None or a number"):
            await server.close(drain_timeout=-1)


# Limits and permissions


async def test_max_connections_pauses_accepting_until_one_ends() -> None:
    events: list[str] = []
    release = {n: asyncio.Event() for n in range(3)}
    started: asyncio.Queue[int] = asyncio.Queue()

    async def handler(stream: aioipc.Stream) -> None:
        number = int(await stream.readline())
        events.append(f"start {number}")
        started.put_nowait(number)
        await release[number].wait()
        events.append(f"end {number}")

    async with aioipc.serve(handler, "tcp://127.0.0.1:0", max_connections=2) as server:
        [address] = server.addresses
        clients = [await aioipc.connect(address) for _ in range(2)]
        for number, client in enumerate(clients):
            await client.send_line(str(number))
            assert await started.get() == number
        # The third connects (the kernel queues it) and is not refused, but is not
        # accepted while two handlers run.
        third = await aioipc.connect(address)
        clients.append(third)
        await third.send_line("2")
        # Wait (in a thread, off the loop) until the kernel has the third connection
        # in the listener's accept queue: from then on a listener still polled by the
        # loop would be reported readable and accepted from, at the latest in the loop
        # iteration that wakes this task up.  It is still queued after that.
        [listener] = server.sockets
        readable, _, _ = await asyncio.to_thread(select.select, [listener], [], [], 20)
        assert readable, "the third connection never reached the accept queue"
        assert accept_queue_length(listener) == 1
        assert server.connection_count == 2
        assert started.empty()
        release[0].set()
        assert await started.get() == 2
        assert accept_queue_length(listener) == 0
        assert events == ["start 0", "start 1", "end 0", "start 2"]
        release[1].set()
        release[2].set()
        for client in clients:
            await client.aclose()


async def test_allow_uids_refuses_other_users(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aioipc.serve")
    served: list[int] = []

    async def handler(stream: aioipc.Stream) -> None:
        served.append(stream.extra(aioipc.StreamAttribute.peer_credentials).uid)
        await stream.send_line("welcome")

    other = os.getuid() + 1
    refusing = aioipc.serve(handler, f"unix:{tmp_path}/s", allow_uids=[other])
    async with refusing as server, aioipc.connect(server.addresses[0]) as client:
        with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
            await client.readline()
    assert served == []
    [record] = [r for r in caplog.records if r.name == "aioipc.serve"]
    assert f"uid {os.getuid()}: uid not in allow_uids" in record.getMessage()

    accepting = aioipc.serve(handler, _abstract(), allow_uids={os.getuid(), other})
    async with accepting as server, aioipc.connect(server.addresses[0]) as client:
        assert await client.readline() == b"welcome"
    assert served == [os.getuid()]


async def test_peer_credentials_are_ours(tmp_path: Path) -> None:
    seen: asyncio.Queue[aioipc.PeerCredentials] = asyncio.Queue()

    async def handler(stream: aioipc.Stream) -> None:
        seen.put_nowait(stream.extra(aioipc.StreamAttribute.peer_credentials))

    serving = aioipc.serve(handler, f"unix:{tmp_path}/s")
    async with serving as server, aioipc.connect(server.addresses[0]) as client:
        ours = await seen.get()
        theirs = client.extra(aioipc.StreamAttribute.peer_credentials)
    assert ours == (os.getpid(), os.getuid(), os.getgid())
    assert theirs == ours  # the server is this process too


async def test_unix_socket_files_are_private_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "s"
    async with aioipc.serve(echo, f"unix:{path}"):
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
    assert not path.exists()
    async with aioipc.serve(echo, f"unix:{path}", unix_mode=0o660):
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o660


async def test_a_socket_file_replaced_while_serving_survives_close(tmp_path: Path) -> None:
    path = tmp_path / "s"
    async with aioipc.serve(echo, f"unix:{path}"):
        os.unlink(path)
        theirs = socket.socket(socket.AF_UNIX)
        theirs.bind(str(path))
    with theirs:
        assert stat.S_ISSOCK(os.lstat(path).st_mode)


async def test_serve_replaces_a_stale_socket_but_not_a_live_server(tmp_path: Path) -> None:
    path = tmp_path / "s"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    async with aioipc.serve(echo, f"unix:{path}"):
        with pytest.raises(FileExistsError, match="a server is listening there"):
            await aioipc.serve(echo, f"unix:{path}")
        async with aioipc.connect(f"unix:{path}") as client:
            await client.send_line("still mine")
            assert await client.readline() == b"echo still mine"


async def test_serve_on_sockets_that_are_already_listening(tmp_path: Path) -> None:
    # As systemd socket activation hands them over: used as they are, never unlinked.
    path = tmp_path / "activated"
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(path))
    unix.listen()
    tcp = socket.socket(socket.AF_INET)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    port = tcp.getsockname()[1]
    async with aioipc.serve(echo, unix, tcp, "tcp://127.0.0.1:0") as server:
        assert server.addresses[:2] == [
            aioipc.Address("unix", path=str(path)),
            aioipc.Address("tcp", "127.0.0.1", port),
        ]
        for address in server.addresses:
            async with aioipc.connect(address) as client:
                await client.send_line("hi")
                assert await client.readline() == b"echo hi"
    assert unix.fileno() == -1  # the server owned it and closed it
    assert stat.S_ISSOCK(os.lstat(path).st_mode)  # but left the file alone


async def test_accept_backs_off_when_out_of_fds_and_recovers() -> None:
    loop = asyncio.get_running_loop()
    async with log_events() as logged, aioipc.serve(echo, "tcp://127.0.0.1:0") as server:
        [address] = server.addresses
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.setblocking(False)
        with client:
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            lowest_free = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            os.close(lowest_free)
            resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))
            try:
                await loop.sock_connect(client, (address.host, address.port))
                message = await logged.get()
            finally:
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            assert "Too many open files" in message
            assert "not accepting for" in message
            # Accepting resumes after the pause; the waiting client is served.
            await loop.sock_sendall(client, b"served\n")
            received = b""
            while not received.endswith(b"\n"):
                received += await loop.sock_recv(client, 100)
            assert received == b"echo served\r\n"


# Client errors


async def test_connect_timeout_names_the_address() -> None:
    # A listener with a backlog of 0 takes one connection into its queue; with the
    # queue full the kernel drops the next SYN, so that connect never completes.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    with listener:
        async with aioipc.connect(f"tcp://127.0.0.1:{port}"):
            with pytest.raises(
                aioipc.IPCTimeoutError,
                match=rf"connect to tcp://127\.0\.0\.1:{port}: no connection within 0\.2 s",
            ) as caught:
                await aioipc.connect(f"tcp://127.0.0.1:{port}", timeout=0.2)
    assert isinstance(caught.value, TimeoutError)


async def test_connection_refused_names_the_address() -> None:
    with socket.socket() as bound:  # bound, not listening: holds the port for us
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with pytest.raises(ConnectionRefusedError, match=f"connect to tcp://127.0.0.1:{port}"):
            await aioipc.connect(host="127.0.0.1", port=port)


async def test_missing_unix_socket_names_the_address(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=f"connect to unix:{tmp_path}/none"):
        await aioipc.connect(f"unix:{tmp_path}/none")


async def test_connect_bad_arguments() -> None:
    with pytest.raises(ValueError, match="no address"):
        aioipc.connect()
    with pytest.raises(ValueError, match="datagram address"):
        aioipc.connect("udp://127.0.0.1:9")
    with pytest.raises(ValueError, match="unknown scheme 'http'"):
        aioipc.connect("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="timeout must be None or a number of seconds > 0"):
        aioipc.connect("tcp://127.0.0.1:9", timeout=0)
    with pytest.raises(ValueError, match="eol must be"):
        aioipc.connect("tcp://127.0.0.1:9", eol=b"\r")
    with pytest.raises(ValueError, match="no host"):
        await aioipc.connect("tcp://:9")


async def test_serve_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="handler must be an async function"):
        aioipc.serve("echo", "tcp://127.0.0.1:0")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one address"):
        aioipc.serve(echo)
    with pytest.raises(ValueError, match="datagram address"):
        aioipc.serve(echo, "udp://127.0.0.1:0")
    with pytest.raises(TypeError, match="not int"):
        aioipc.serve(echo, 8080)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bad port 'x!'"):
        aioipc.serve(echo, "tcp://127.0.0.1:x!")
    with pytest.raises(ValueError, match="backlog must be an int >= 0"):
        aioipc.serve(echo, "tcp://127.0.0.1:0", backlog=-1)
    with pytest.raises(ValueError, match="max_connections must be at least 1, not 0"):
        aioipc.serve(echo, "tcp://127.0.0.1:0", max_connections=0)
    with pytest.raises(TypeError, match=r"max_connections must be an int or None, not 2\.5"):
        aioipc.serve(echo, "tcp://127.0.0.1:0", max_connections=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unix_mode must be permission bits"):
        aioipc.serve(echo, "unix:@x", unix_mode=0o4755)
    with pytest.raises(TypeError, match="allow_uids must hold ints"):
        aioipc.serve(echo, "unix:@x", allow_uids=["root"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"allow_uids needs Unix sockets: tcp://127\.0\.0\.1:0"):
        aioipc.serve(echo, "tcp://127.0.0.1:0", allow_uids=[0])
    with socket.socket() as unlistening, pytest.raises(ValueError, match="is not listening"):
        aioipc.serve(echo, unlistening)
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as datagram,
        pytest.raises(ValueError, match="is not a SOCK_STREAM socket"),
    ):
        aioipc.serve(echo, datagram)


async def test_a_failed_listen_closes_what_was_opened(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(FileExistsError, match="is not a socket"):
        await aioipc.serve(echo, f"unix:{tmp_path}/first", f"unix:{tmp_path}/taken")
    assert not (tmp_path / "first").exists()  # and no_leaks checks the fds


# Interop with perl's IO::Socket::INET


@needs_perl
async def test_a_perl_io_socket_client_talks_to_serve() -> None:
    async with aioipc.serve(echo, "tcp://127.0.0.1:0") as server:
        [address] = server.addresses
        result = await aioipc.run_process(
            ["perl", str(PERL_DIR / "line_client.pl"), "127.0.0.1", str(address.port), *LINES],
            timeout=30,
        )
    assert result.stdout == b"echo one\necho two\necho three\n"  # each answered


@needs_perl
async def test_connect_talks_to_a_perl_io_socket_server() -> None:
    async with aioipc.open_process(
        ["perl", str(PERL_DIR / "echo_server.pl")], stdout=aioipc.PIPE, check=True
    ) as perl:
        assert perl.stdout is not None
        ready = await perl.stdout.readline()
        assert ready.startswith(b"READY ")
        port = int(ready.split()[1])
        async with aioipc.connect(host="127.0.0.1", port=port, timeout=30) as stream:
            await stream.send_line("hello perl")
            assert await stream.readline() == b"HELLO PERL"
            await stream.send(b"bare newline\n")
            assert await stream.readline() == b"BARE NEWLINE"
        assert (await perl.wait()).success
