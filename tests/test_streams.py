"""Stream helpers and constructors on real pipes, sockets and ptys, on both loops."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import pty
import socket
import subprocess
import sys
import tempfile
import threading
import tty
import weakref
from collections.abc import Awaitable, Callable

import anyio
import pytest
from anyio.abc import SocketAttribute
from anyio.streams.text import TextStream
from streams_pairs import connected_sockets, pipe_pair, socketpair_pair, tcp_pair, unix_pair

import aioipc
from aioipc import BrokenPipe, IncompleteRead, LineTooLong, Stream, StreamAttribute


async def test_readline_accepts_lf_and_crlf_and_returns_an_unterminated_last_line() -> None:
    left, right = await aioipc.socketpair()
    async with left, right:
        await left.send(b"one\ntwo\r\nthree")
        await left.send_eof()
        assert await right.readline() == b"one"
        assert await right.readline() == b"two"
        assert await right.readline() == b"three"
        with pytest.raises(anyio.EndOfStream):
            await right.readline()


async def test_lines_iterates_until_end_of_stream() -> None:
    reader, writer = await aioipc.pipe()
    async with reader, writer:
        for word in ("alpha", "beta", "gamma"):
            await writer.send_line(word)
        await writer.aclose()
        assert [line async for line in reader.lines()] == [b"alpha", b"beta", b"gamma"]


async def test_overlong_line_raises_and_leaves_the_stream_usable() -> None:
    left, right = await aioipc.socketpair()
    async with left, right:
        await left.send(b"x" * 100 + b"\nshort\n")
        with pytest.raises(LineTooLong, match="limit of 10 bytes"):
            await right.readline(limit=10)
        # Nothing was consumed: the caller can drain the long line and go on.
        assert await right.receive_until(b"\n", 1000) == b"x" * 100
        assert await right.readline(limit=10) == b"short"


async def test_receive_exactly_and_its_partial_data_at_eof() -> None:
    left, right = await aioipc.socketpair()
    async with left, right:
        await left.send(b"abc")
        await left.send(b"defgh")
        assert await right.receive_exactly(4) == b"abcd"
        await left.send_eof()
        with pytest.raises(IncompleteRead) as caught:
            await right.receive_exactly(10)
        assert caught.value.partial == b"efgh"
        assert caught.value.expected == 10
        assert isinstance(caught.value, anyio.IncompleteRead)


async def test_receive_until_splits_records() -> None:
    left, right = await aioipc.socketpair()
    async with left, right:
        await left.send(b"k1=v1\0k2=v2\0tail")
        await left.send_eof()
        assert await right.receive_until(b"\0", 100) == b"k1=v1"
        assert await right.receive_until(b"\0", 100) == b"k2=v2"
        with pytest.raises(IncompleteRead) as caught:
            await right.receive_until(b"\0", 100)
        assert caught.value.partial == b"tail"


async def test_send_line_uses_crlf_on_internet_sockets_and_lf_elsewhere() -> None:
    client, server = await tcp_pair()
    async with client, server:
        assert client.eol == b"\r\n"
        await client.send_line("hello")
        assert await server.receive_exactly(7) == b"hello\r\n"
    client, server = await unix_pair()
    async with client, server:
        assert client.eol == b"\n"
        await client.send_line(b"hello")
        assert await server.receive_exactly(6) == b"hello\n"


async def test_send_line_refuses_an_embedded_newline() -> None:
    left, right = await aioipc.socketpair()
    async with left, right:
        with pytest.raises(ValueError, match="contains a newline"):
            await left.send_line("two\nlines")


async def test_configurable_eol() -> None:
    left, right = await aioipc.socketpair(eol=b"\r\n")
    async with left, right:
        await left.send_line("x")
        assert await right.receive_exactly(3) == b"x\r\n"
    with pytest.raises(ValueError, match="eol must be"):
        await aioipc.socketpair(eol=b"\r")


async def test_socket_attributes_and_peer_credentials() -> None:
    client, server = await tcp_pair()
    async with client, server:
        assert client.extra(SocketAttribute.remote_address) == server.extra(
            SocketAttribute.local_address
        )
        assert client.extra(SocketAttribute.remote_port) == server.extra(
            SocketAttribute.local_port
        )
        assert client.extra(SocketAttribute.family) == socket.AF_INET
        assert client.extra(StreamAttribute.fd) >= 0
        with pytest.raises(anyio.TypedAttributeLookupError):
            client.extra(StreamAttribute.peer_credentials)
    client, server = await unix_pair()
    async with client, server:
        credentials = server.extra(StreamAttribute.peer_credentials)
        assert credentials == (os.getpid(), os.getuid(), os.getgid())


async def test_pipe_fd_attribute_and_child_pid() -> None:
    read_fd, write_fd = os.pipe()
    stream = await Stream.from_pipe_fds(read_fd, write_fd, child_pid=12345)
    async with stream:
        assert stream.extra(StreamAttribute.fd) == read_fd
        assert stream.extra(StreamAttribute.child_pid) == 12345
        await stream.send(b"loop")
        assert await stream.receive() == b"loop"


async def send_until_it_fails(stream: Stream) -> None:
    """Send until the kernel reports the dead reader (the first write may still succeed)."""
    for _ in range(100):
        await stream.send(b"data" * 1000)


async def test_writing_to_a_pipe_whose_reader_closed_raises_broken_pipe() -> None:
    reader, writer = await aioipc.pipe()
    async with writer:
        await reader.aclose()
        with pytest.raises(BrokenPipe) as caught:
            await send_until_it_fails(writer)
        assert isinstance(caught.value, BrokenPipeError)
        assert isinstance(caught.value, anyio.BrokenResourceError)
        assert "reading end is closed" in str(caught.value)


async def test_sending_to_a_socket_whose_peer_closed_raises_broken_pipe() -> None:
    left, right = await aioipc.socketpair()
    async with left:
        await right.aclose()
        with pytest.raises(BrokenPipe):
            await send_until_it_fails(left)


async def test_reset_connection_is_a_broken_resource_on_receive() -> None:
    client, server = await tcp_pair()
    async with client:
        raw = server.extra(SocketAttribute.raw_socket)
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        await client.send(b"unread")  # unread data makes the peer reset, too
        await server.aclose()
        with pytest.raises(anyio.BrokenResourceError):
            await client.receive()


async def test_pty_master_as_a_two_way_stream() -> None:
    master, slave = pty.openpty()
    try:
        term = await Stream.from_fd(master, "rw")
        async with term:
            await term.send(b"ping\n")
            # The line discipline echoes input back to the master.
            assert await term.readline() == b"ping"
            os.write(slave, b"pong\n")
            assert await term.readline() == b"pong"
    finally:
        os.close(slave)


PTY_ECHO = """
import os, sys
fd = int(sys.argv[1])
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:  # EIO: the master is closed
        break
    if not data:
        break
    os.write(fd, data)
"""


async def test_pty_master_loses_nothing_over_many_round_trips() -> None:
    # On uvloop the read and write transports sit on two fds of one pty master, and
    # uvloop's write-pipe transport reads its fd too (uvloop#317): asyncio streams set
    # up that way lost an echo now and then (the benchmarks' pty ping-pong hung).
    # Every one of these round trips must come back, in order.
    master, slave = pty.openpty()
    tty.setraw(slave)
    echo = subprocess.Popen([sys.executable, "-c", PTY_ECHO, str(slave)], pass_fds=(slave,))
    os.close(slave)
    try:
        async with await Stream.from_fd(master, "rw") as term:
            for index in range(5_000):
                message = b"%063d" % index + b"."
                await term.send(message)
                assert await asyncio.wait_for(term.receive_exactly(64), 10) == message
    finally:
        assert echo.wait(10) == 0


async def test_from_fd_rejects_regular_files_and_bad_modes() -> None:
    with (
        tempfile.TemporaryFile() as regular,
        pytest.raises(ValueError, match="not a pipe, FIFO, terminal or socket"),
    ):
        await Stream.from_fd(regular.fileno(), "r")
    read_fd, write_fd = os.pipe()
    try:
        with pytest.raises(ValueError, match="mode must be"):
            await Stream.from_fd(read_fd, "read")
    finally:
        os.close(read_fd)
        os.close(write_fd)
    with pytest.raises(ValueError, match="needs read_fd, write_fd or both"):
        await Stream.from_pipe_fds()


async def test_from_socket_rejects_non_stream_sockets() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        pytest.raises(ValueError, match="SOCK_STREAM"),
    ):
        await Stream.from_socket(udp)
    with pytest.raises(TypeError, match=r"socket\.socket"):
        await Stream.from_socket(3)  # type: ignore[arg-type]


async def test_send_rejects_text() -> None:
    left, right = await aioipc.socketpair()
    async with left, right:
        with pytest.raises(TypeError, match="takes bytes, not str"):
            await left.send("text")  # type: ignore[arg-type]


async def test_read_only_and_write_only_ends_refuse_the_other_direction() -> None:
    reader, writer = await aioipc.pipe()
    async with reader, writer:
        with pytest.raises(anyio.ClosedResourceError, match="read-only"):
            await reader.send(b"x")
        with pytest.raises(anyio.EndOfStream):
            await writer.receive()


async def test_anyio_text_wrapper_works_on_a_stream() -> None:
    left, right = await aioipc.socketpair()
    async with TextStream(left) as text_left, TextStream(right) as text_right:
        await text_left.send("grüße")
        assert await text_right.receive() == "grüße"


async def test_stream_from_a_child_process_pipe() -> None:
    read_fd, write_fd = os.pipe()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "print('from the child')", stdout=write_fd
    )
    os.close(write_fd)
    stream = await Stream.from_fd(read_fd, "r", child_pid=child.pid)
    async with stream:
        assert [line async for line in stream.lines()] == [b"from the child"]
    assert await child.wait() == 0


async def test_aclose_flushes_queued_output_to_a_slow_reader() -> None:
    reader, writer = await aioipc.pipe()
    payload = os.urandom(4 * 1024 * 1024)

    async def slow_drain() -> bytes:
        chunks = []
        async for chunk in reader_chunks():
            chunks.append(chunk)
        return b"".join(chunks)

    async def reader_chunks():  # type: ignore[no-untyped-def]
        while True:
            try:
                yield await reader.receive(4096)
            except anyio.EndOfStream:
                return

    async with reader:
        draining = asyncio.create_task(slow_drain())
        await writer.send(payload)
        await writer.aclose()
        assert await draining == payload


def test_stream_needs_a_running_loop() -> None:
    with pytest.raises(RuntimeError):
        Stream()


def _tcp_sockets() -> tuple[socket.socket, socket.socket]:
    return connected_sockets(socket.AF_INET, ("127.0.0.1", 0))


async def test_receive_after_aclose_raises_even_with_data_buffered() -> None:
    left, right = await aioipc.socketpair()
    await left.send(b"buffered")
    await left.aclose()
    assert await right.receive(1) == b"b"  # data is in right's buffer now
    await right.aclose()
    with pytest.raises(anyio.ClosedResourceError):
        await right.receive()
    with pytest.raises(anyio.ClosedResourceError):
        await right.readline()


async def test_from_fd_on_a_tcp_socket_fd_uses_crlf_and_refuses_datagram_sockets() -> None:
    client, server = _tcp_sockets()
    stream = await Stream.from_fd(client.detach(), "rw")
    async with stream:
        assert stream.eol == b"\r\n"
    server.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        with pytest.raises(ValueError, match="SOCK_DGRAM socket"):
            await Stream.from_fd(udp.fileno(), "rw")
        assert udp.fileno() >= 0  # still the caller's


async def test_pty_master_sees_end_of_stream_when_the_slave_closes() -> None:
    master, slave = pty.openpty()
    term = await Stream.from_fd(master, "rw")
    async with term:
        os.write(slave, b"bye\n")
        os.close(slave)
        assert [line async for line in term.lines()] == [b"bye"]


async def test_send_line_refuses_non_text() -> None:
    left, right = await aioipc.socketpair()
    async with left, right:
        with pytest.raises(TypeError, match="str or bytes, not int"):
            await left.send_line(3)  # type: ignore[arg-type]


async def test_receive_until_at_eof_names_the_delimiter() -> None:
    left, right = await aioipc.socketpair()
    async with left, right:
        await left.send(b"no end")
        await left.send_eof()
        with pytest.raises(IncompleteRead, match=r"6 bytes, before the delimiter b'\\x00'"):
            await right.receive_until(b"\0", 100)


def test_run_inside_a_running_loop_is_refused_without_a_never_awaited_warning() -> None:
    async def inner() -> None:
        return None

    async def outer() -> None:
        with pytest.raises(RuntimeError, match="while an event loop is running"):
            aioipc.run(inner())

    aioipc.run(outer())


@pytest.mark.parametrize("kind", ["pipe", "socket"])
async def test_cancelling_stream_creation_closes_each_fd_exactly_once(kind: str) -> None:
    # On uvloop an interrupted connect closes the fd itself; closing it again would hit
    # whatever fd got the same number meanwhile.  Canary fds opened right after the
    # cancellation stand where such a stray close would land.  (Cancelled before its
    # first step, a coroutine never runs and never takes the fd: so start at 1.)
    for iterations_before_cancel in range(1, 5):
        if kind == "pipe":
            read_fd, write_fd = os.pipe()
            creating = asyncio.ensure_future(Stream.from_pipe_fds(read_fd, write_fd))
        else:
            left, right = socket.socketpair()
            right.close()
            creating = asyncio.ensure_future(Stream.from_socket(left))
        for _ in range(iterations_before_cancel):
            await asyncio.sleep(0)
        creating.cancel()
        canaries = os.pipe()
        try:
            stream = await creating
        except asyncio.CancelledError:
            pass
        else:
            await stream.aclose()
        for _ in range(3):
            await asyncio.sleep(0)  # let any close the loop scheduled happen
        try:
            for canary in canaries:
                os.fstat(canary)  # raises EBADF if a stray close hit it
        finally:
            for canary in canaries:
                os.close(canary)


async def test_receive_exactly_cancelled_around_arrival_loses_nothing() -> None:
    left, right = await aioipc.socketpair()
    async with left, right:
        sent = bytearray()
        got = bytearray()
        for number in range(40):
            message = f"m{number:03d};".encode()
            waiting = asyncio.create_task(right.receive_exactly(len(message)))
            await asyncio.sleep(0)
            await left.send(message)
            sent += message
            for _ in range(number % 4):
                await asyncio.sleep(0)
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                got += await waiting
        await left.send_eof()
        while True:
            try:
                got += await right.receive()
            except anyio.EndOfStream:
                break
        assert got == sent


async def test_receive_exactly_splits_a_larger_chunk_that_arrives_while_waiting() -> None:
    left, right = await aioipc.socketpair()
    async with left, right:
        first = asyncio.create_task(right.receive_exactly(4))
        await asyncio.sleep(0)
        await left.send(b"abcdefghij")
        assert await first == b"abcd"
        assert await right.receive_exactly(6) == b"efghij"


def _flood(fd: int, stop: threading.Event) -> None:
    """Write to ``fd`` as fast as the reader takes it, until ``stop`` (a real peer)."""
    chunk = b"f" * 4096
    with contextlib.suppress(OSError):
        while not stop.is_set():
            os.write(fd, chunk)


@pytest.mark.parametrize("kind", ["pipe", "socketpair", "tcp"])
async def test_a_peer_that_always_has_data_ready_does_not_starve_other_tasks(kind: str) -> None:
    # receive() reads directly when the data is already there; a bounded number of
    # such reads in a row must still let other tasks, and timeouts, run.
    if kind == "pipe":
        read_fd, write_fd = os.pipe()
        stream = await Stream.from_pipe_fds(read_fd)
    else:
        if kind == "tcp":
            ours, theirs = connected_sockets(socket.AF_INET, ("127.0.0.1", 0))
        else:
            ours, theirs = socket.socketpair()
        write_fd = theirs.detach()
        stream = await Stream.from_socket(ours)
    stop = threading.Event()
    flooder = threading.Thread(target=_flood, args=(write_fd, stop))
    flooder.start()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    try:
        async with stream:
            tick_task = asyncio.create_task(ticker())
            received = 0

            async def receive_forever() -> None:
                nonlocal received
                while True:
                    received += len(await stream.receive(4096))

            with pytest.raises(TimeoutError):
                await asyncio.wait_for(receive_forever(), 0.2)
            tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tick_task
            assert received > 0
            assert ticks > 0
    finally:
        stop.set()
        os.close(write_fd)
        flooder.join()


@pytest.mark.parametrize("make_pair", [pipe_pair, socketpair_pair], ids=["pipe", "socketpair"])
async def test_a_second_receiver_or_sender_is_refused_only_while_the_first_waits(
    make_pair: Callable[[], Awaitable[tuple[Stream, Stream]]],
) -> None:
    sender, receiver = await make_pair()
    async with sender, receiver:
        # A receive_exactly waiting for its bytes makes every other receive busy.
        first = asyncio.create_task(receiver.receive_exactly(4))
        while not receiver._receive_guard.busy:
            await asyncio.sleep(0)
        for other in (receiver.receive_exactly(1), receiver.readline(), receiver.receive()):
            with pytest.raises(anyio.BusyResourceError):
                await other
        await sender.send(b"abcd")
        assert await first == b"abcd"
        # A send waiting for the channel to drain makes the next send busy.
        big = b"x" * (4 << 20)
        blocked = asyncio.create_task(sender.send(big))
        while not sender._send_guard.busy:
            await asyncio.sleep(0)
        with pytest.raises(anyio.BusyResourceError):
            await sender.send(b"y")
        assert await receiver.receive_exactly(len(big)) == big
        await blocked
        # Neither guard is left taken: both directions work again.
        await sender.send(b"z")
        assert await receiver.receive_exactly(1) == b"z"


async def test_a_tcp_stream_cancelled_while_it_is_set_up_closes_its_socket_once() -> None:
    client, server = connected_sockets(socket.AF_INET, ("127.0.0.1", 0))
    with server:
        task = asyncio.create_task(Stream.from_socket(client))
        await asyncio.sleep(0)  # from_socket has handed the socket to the loop
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The loop closed the socket through its transport (the peer sees EOF) and the
        # socket object no longer holds the fd, so nothing closes that number again.
        server.settimeout(5)
        assert server.recv(1) == b""
        for _ in range(10):
            if client.fileno() == -1:
                break
            await asyncio.sleep(0)
        assert client.fileno() == -1


@pytest.mark.parametrize(
    "make_pair", [pipe_pair, socketpair_pair, tcp_pair], ids=["pipe", "socketpair", "tcp"]
)
async def test_a_closed_stream_is_freed_without_the_cycle_collector(
    make_pair: Callable[[], Awaitable[tuple[Stream, Stream]]],
) -> None:
    left, right = await make_pair()
    await left.send(b"x")
    assert await right.receive() == b"x"
    await left.aclose()
    await right.aclose()
    refs = [weakref.ref(left), weakref.ref(right)]
    gc.disable()
    try:
        del left, right
        await asyncio.sleep(0)  # the loop lets go of its last callbacks
        assert [ref() for ref in refs] == [None, None]
    finally:
        gc.enable()
