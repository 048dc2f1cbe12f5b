"""Passing file descriptors over Unix stream sockets: Stream.send_fds / receive_fds.

Everything here is real: socketpairs, Unix sockets bound in a temporary directory,
pipes whose ends travel and then carry data, and forked children that receive (and
send) fds.  The autouse leak fixture (conftest) fails a test that leaves any fd open,
so every "the stream closed what it never handed out" claim is checked by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import resource
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import anyio
import pytest
from streams_pairs import socketpair_pair, tcp_pair, unix_pair

import aioipc
from aioipc import FdMessage, FdsTruncated, Stream, open_fork

PAIRS: dict[str, Callable[[], Awaitable[tuple[Stream, Stream]]]] = {
    "socketpair": socketpair_pair,
    "unix": unix_pair,
}


@pytest.fixture(params=list(PAIRS))
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Stream, Stream]]:
    left, right = await PAIRS[request.param]()
    async with left, right:
        yield left, right


@contextlib.contextmanager
def closing_fds(fds: list[int]) -> Iterator[None]:
    try:
        yield
    finally:
        for fd in fds:
            os.close(fd)


def same_file(first: int, second: int) -> bool:
    a, b = os.fstat(first), os.fstat(second)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


async def read_pipe(read_fd: int) -> bytes:
    """Everything until EOF from a pipe read end (the stream closes the fd)."""
    async with await Stream.from_pipe_fds(read_fd=read_fd) as stream:
        chunks = []
        with contextlib.suppress(anyio.EndOfStream):
            while True:
                chunks.append(await stream.receive())
        return b"".join(chunks)


# ------------------------------------------------------------------ basics


async def test_a_pipe_end_travels_and_carries_data(pair: tuple[Stream, Stream]) -> None:
    left, right = pair
    read_fd, write_fd = os.pipe()
    await left.send_fds(b"take this", [write_fd])
    os.close(write_fd)  # ours may go at once: the peer has its own now
    message = await right.receive_fds(100, 4)
    assert isinstance(message, FdMessage)
    assert message.data == b"take this"
    assert len(message.fds) == 1
    (received,) = message.fds
    assert not os.get_inheritable(received), "received fds must be close-on-exec"
    os.write(received, b"through the passed pipe end")
    os.close(received)
    assert await read_pipe(read_fd) == b"through the passed pipe end"


async def test_objects_with_fileno_are_accepted(pair: tuple[Stream, Stream]) -> None:
    left, right = pair
    one, two = socket.socketpair()
    with one, two:
        await left.send_fds(b"s", [one])
        data, fds = await right.receive_fds(10, 1)
        assert data == b"s"
        with closing_fds(fds):
            assert same_file(fds[0], one.fileno())
            with socket.socket(fileno=os.dup(fds[0])) as copy:
                copy.sendall(b"via the passed socket")
            assert two.recv(100) == b"via the passed socket"


async def test_both_directions_and_plain_data_still_flows(pair: tuple[Stream, Stream]) -> None:
    left, right = pair
    read_fd, write_fd = os.pipe()
    with closing_fds([read_fd, write_fd]):
        await right.send_fds(b"R", [read_fd])
        await left.send_fds(b"W", [write_fd])
        got_left = await left.receive_fds(10, 1)
        got_right = await right.receive_fds(10, 1)
        with closing_fds(got_left.fds + got_right.fds):
            assert (got_left.data, got_right.data) == (b"R", b"W")
            assert same_file(got_left.fds[0], read_fd)
            assert same_file(got_right.fds[0], write_fd)
        await left.send_line("plain")
        assert await right.readline() == b"plain"


async def test_from_fd_on_a_unix_socket_can_pass_fds() -> None:
    one, two = socket.socketpair()
    first = await Stream.from_fd(one.detach(), "rw")
    second = await Stream.from_socket(two)
    async with first, second:
        read_fd, write_fd = os.pipe()
        with closing_fds([read_fd, write_fd]):
            await first.send_fds(b"x", [read_fd])
            data, fds = await second.receive_fds(1, 1)
            with closing_fds(fds):
                assert data == b"x"
                assert same_file(fds[0], read_fd)


# ------------------------------------------------------------------ ordering and buffering


async def test_batches_come_in_order_each_with_its_own_bytes(
    pair: tuple[Stream, Stream],
) -> None:
    left, right = pair
    pipes = [os.pipe() for _ in range(3)]
    originals = [fd for p in pipes for fd in p]
    with closing_fds(originals):
        await left.send(b"a")
        await left.send_fds(b"B", [pipes[0][1]])
        await left.send(b"cc")
        await left.send_fds(b"DD", [pipes[1][1], pipes[2][1]])
        await left.send(b"e")
        await left.send_eof()
        messages = []
        while True:
            try:
                messages.append(await right.receive_fds(100, 10))
            except anyio.EndOfStream:
                break
        received = [fd for m in messages for fd in m.fds]
        with closing_fds(received):
            assert b"".join(m.data for m in messages) == b"aBccDDe"
            batches = [(m.data, len(m.fds)) for m in messages if m.fds]
            # The kernel ends a read after the bytes that carry fds, and may start it
            # with plain bytes sent before them: each batch comes with its own bytes,
            # never later, and never with the next batch's.
            assert batches == [(b"aB", 1), (b"ccDD", 2)]
            assert same_file(received[0], pipes[0][1])
            assert same_file(received[1], pipes[1][1])
            assert same_file(received[2], pipes[2][1])


async def test_small_receives_split_the_bytes_but_not_the_batch(
    pair: tuple[Stream, Stream],
) -> None:
    left, right = pair
    read_fd, write_fd = os.pipe()
    with closing_fds([read_fd, write_fd]):
        await left.send_fds(b"abcdef", [read_fd, write_fd])
        first = await right.receive_fds(2, 2)
        with closing_fds(first.fds):
            assert first.data == b"ab"
            assert len(first.fds) == 2
        rest = b""
        while len(rest) < 4:
            message = await right.receive_fds(2, 2)
            assert message.fds == []
            rest += message.data
        assert rest == b"cdef"


async def test_fds_under_bytes_read_by_receive_wait_for_the_next_receive_fds(
    pair: tuple[Stream, Stream],
) -> None:
    left, right = pair
    read_fd, write_fd = os.pipe()
    with closing_fds([read_fd, write_fd]):
        await left.send_fds(b"line one\n", [read_fd])
        await left.send_fds(b"line two\n", [write_fd])
        await left.send(b"tail")
        await left.send_eof()
        assert await right.readline() == b"line one"
        assert await right.receive_exactly(4) == b"line"
        # The first batch's bytes are gone: its fds come at once, with no data, so
        # that the second batch keeps the bytes after it.
        first = await right.receive_fds(100, 1)
        with closing_fds(first.fds):
            assert first == FdMessage(b"", first.fds)
            assert same_file(first.fds[0], read_fd)
        second = await right.receive_fds(100, 1)
        with closing_fds(second.fds):
            assert second.data == b" two\n"
            assert same_file(second.fds[0], write_fd)
        assert await right.receive_fds(100, 1) == FdMessage(b"tail", [])
        with pytest.raises(anyio.EndOfStream):
            await right.receive_fds(100, 1)


async def test_fds_whose_bytes_were_all_read_are_returned_after_eof(
    pair: tuple[Stream, Stream],
) -> None:
    left, right = pair
    read_fd, write_fd = os.pipe()
    with closing_fds([read_fd, write_fd]):
        await left.send_fds(b"only", [read_fd])
        await left.aclose()
        assert await right.receive_exactly(4) == b"only"
        with pytest.raises(anyio.EndOfStream):
            await right.receive()
        data, fds = await right.receive_fds(10, 1)
        with closing_fds(fds):
            assert data == b""
            assert same_file(fds[0], read_fd)
        with pytest.raises(anyio.EndOfStream):
            await right.receive_fds(10, 1)


async def test_fds_queued_behind_unsent_data_are_held_as_copies(
    pair: tuple[Stream, Stream],
) -> None:
    left, right = pair
    big = b"z" * (8 * 1024 * 1024)  # more than the kernel's socket buffers hold
    flooding = asyncio.create_task(left.send(big))
    # The send is held back by back-pressure; cancelled, its data stays queued.
    for _ in range(20):
        await asyncio.sleep(0)
    assert not flooding.done()
    flooding.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await flooding
    read_fd, write_fd = os.pipe()
    sending = asyncio.create_task(left.send_fds(b"F", [write_fd]))
    await asyncio.sleep(0)
    os.close(write_fd)  # the stream holds its own copy until the kernel takes it
    data = b""
    fds: list[int] = []
    while not fds:
        message = await right.receive_fds(1 << 20, 1)
        data += message.data
        fds = message.fds
    await sending
    # The fd came with the read that ended with its byte (which may have started
    # with the tail of the big send).
    assert data == big + b"F"
    os.write(fds[0], b"still open")
    os.close(fds[0])
    assert await read_pipe(read_fd) == b"still open"


# ------------------------------------------------------------------ limits and errors


async def test_more_fds_than_max_fds_raises_and_takes_nothing(
    pair: tuple[Stream, Stream],
) -> None:
    left, right = pair
    fds = [os.dup(0) for _ in range(3)]
    with closing_fds(fds):
        await left.send_fds(b"three", fds)
        with pytest.raises(FdsTruncated) as caught:
            await right.receive_fds(100, 1)
        assert caught.value.pending == 3
        assert caught.value.max_fds == 1
        assert not caught.value.lost
        assert "max_fds is 1" in str(caught.value)
        assert isinstance(caught.value, aioipc.IPCError)
        # Nothing was taken: a large enough call gets it all.
        data, received = await right.receive_fds(100, 3)
        with closing_fds(received):
            assert data == b"three"
            assert len(received) == 3


async def test_the_most_fds_one_message_can_carry(pair: tuple[Stream, Stream]) -> None:
    left, right = pair
    fds = [os.dup(1) for _ in range(253)]
    with closing_fds(fds):
        await left.send_fds(b"m", fds)
        data, received = await right.receive_fds(10, 253)
        with closing_fds(received):
            assert data == b"m"
            assert len(received) == 253
            assert len(set(received)) == 253
        with pytest.raises(ValueError, match="at most 253"):
            await left.send_fds(b"m", [*fds, fds[0]])


async def test_many_messages_with_fds_queue_up_unread(pair: tuple[Stream, Stream]) -> None:
    left, right = pair
    read_fd, write_fd = os.pipe()
    with closing_fds([read_fd, write_fd]):
        for number in range(100):
            await left.send_fds(f"{number:03d}".encode(), [read_fd, write_fd] * 5)
        await left.send_eof()
        count = 0
        text = b""
        while True:
            try:
                data, fds = await right.receive_fds(1000, 10)
            except anyio.EndOfStream:
                break
            with closing_fds(fds):
                assert len(fds) in (0, 10)
                count += len(fds)
            text += data
        assert count == 1000
        assert text == b"".join(f"{n:03d}".encode() for n in range(100))


async def test_fds_never_handed_out_are_closed_by_aclose(pair: tuple[Stream, Stream]) -> None:
    left, right = pair
    read_fd, write_fd = os.pipe()
    with closing_fds([read_fd, write_fd]):
        await left.send_fds(b"unwanted\n", [read_fd, write_fd])
        await left.send_line("wanted")
        # The fds arrived with the first line; only plain receives are used.
        assert await right.readline() == b"unwanted"
        assert await right.readline() == b"wanted"
    await right.aclose()
    # The leak fixture checks that the two received copies were closed.


async def test_argument_errors(pair: tuple[Stream, Stream]) -> None:
    left, right = pair
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    with closing_fds([read_fd]):
        with pytest.raises(ValueError, match="at least one byte"):
            await left.send_fds(b"", [read_fd])
        with pytest.raises(ValueError, match=f"fd {write_fd}, which is not open"):
            await left.send_fds(b"x", [read_fd, write_fd])
        with pytest.raises(TypeError, match=r"fds\[0\]"):
            await left.send_fds(b"x", ["3"])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="bytes"):
            await left.send_fds("x", [read_fd])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="max_fds"):
            await right.receive_fds(10, 0)
        with pytest.raises(ValueError, match="max_bytes"):
            await right.receive_fds(0, 1)
        # None of that sent anything; the stream works.
        await left.send_fds(b"ok", [read_fd])
        data, fds = await right.receive_fds(10, 1)
        with closing_fds(fds):
            assert data == b"ok"


async def test_closed_stream_refuses() -> None:
    left, right = await aioipc.socketpair()
    await left.aclose()
    await right.aclose()
    with pytest.raises(anyio.ClosedResourceError):
        await left.send_fds(b"x", [0])
    with pytest.raises(anyio.ClosedResourceError):
        await right.receive_fds(10, 1)


@pytest.mark.parametrize("kind", ["pipe", "tcp"])
async def test_streams_that_cannot_carry_fds_say_so(kind: str) -> None:
    if kind == "pipe":
        reader, writer = await aioipc.pipe()
        sender, receiver = writer, reader
    else:
        sender, receiver = await tcp_pair()
    async with sender, receiver:
        with pytest.raises(io.UnsupportedOperation, match="Unix stream socket") as caught:
            await sender.send_fds(b"x", [0])
        assert "cannot carry file descriptors" in str(caught.value)
        with pytest.raises(io.UnsupportedOperation, match="Unix stream socket"):
            await receiver.receive_fds(10, 1)


# ------------------------------------------------------------------ cancellation


async def test_cancelled_receive_fds_loses_nothing(pair: tuple[Stream, Stream]) -> None:
    left, right = pair
    waiting = asyncio.create_task(right.receive_fds(100, 4))
    for _ in range(10):
        await asyncio.sleep(0)
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    read_fd, write_fd = os.pipe()
    sent = b""
    got = b""
    received: list[int] = []
    with closing_fds([read_fd, write_fd]):
        try:
            # Data with fds arrives and the receiver is cancelled around the same loop
            # iteration: whatever the calls returned plus what is read afterwards is
            # all that was sent.
            for round_number in range(50):
                message = f"message {round_number};".encode()
                waiting = asyncio.create_task(right.receive_fds(1000, 4))
                await asyncio.sleep(0)
                await left.send_fds(message, [read_fd, write_fd])
                sent += message
                for _ in range(round_number % 5):
                    await asyncio.sleep(0)
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    data, fds = await waiting
                    got += data
                    received += fds
            await left.send_eof()
            while True:
                try:
                    data, fds = await right.receive_fds(1000, 4)
                except anyio.EndOfStream:
                    break
                got += data
                received += fds
            assert got == sent
            assert len(received) == 100
        finally:
            for fd in received:
                os.close(fd)


# ------------------------------------------------------------------ kernel truncation


async def truncating_child(channel: Stream) -> int:
    """Leave this process one free fd number, then receive a batch of fds."""
    highest = max(int(name) for name in os.listdir("/proc/self/fd"))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, hard))
    fillers = []
    with contextlib.suppress(OSError):
        while True:  # fill every hole below the limit (the child's fds are its own)
            fillers.append(os.open(os.devnull, os.O_RDONLY))
    os.close(fillers.pop())
    await channel.send(b"R")
    try:
        await channel.receive_fds(100, 253)
    except FdsTruncated as exc:
        if not exc.lost:
            return 3
    else:
        return 2
    data, fds = await channel.receive_fds(100, 253)
    if fds:
        return 4
    await channel.send(b"lost " + data)
    return 0


async def test_fds_the_kernel_could_not_install_are_reported() -> None:
    fds = [os.dup(1) for _ in range(100)]
    with closing_fds(fds):
        async with open_fork(truncating_child, channel=True, check=True) as child:
            assert child.channel is not None
            assert await child.channel.receive_exactly(1) == b"R"
            await child.channel.send_fds(b"payload", fds)
            assert await child.channel.receive_exactly(12) == b"lost payload"


# ------------------------------------------------------------------ forked children


async def write_to_passed_fd(channel: Stream) -> int:
    """Receive a pipe's write end and write through it."""
    data, fds = await channel.receive_fds(100, 1)
    with os.fdopen(fds[0], "wb") as pipe_end:
        pipe_end.write(data.upper() + f" from {os.getpid()}".encode())
    return 0


async def test_a_child_receives_a_pipe_end_and_writes_through_it() -> None:
    read_fd, write_fd = os.pipe()
    try:
        async with open_fork(write_to_passed_fd, channel=True, check=True) as child:
            assert child.channel is not None
            await child.channel.send_fds(b"hello", [write_fd])
            os.close(write_fd)
            write_fd = -1
            text = await read_pipe(read_fd)
            read_fd = -1
    finally:
        for fd in (read_fd, write_fd):
            if fd >= 0:
                os.close(fd)
    assert text == f"HELLO from {child.pid}".encode()


async def send_pipe_back(channel: Stream, count: int) -> int:
    """Make pipes and send their read ends to the parent, then write into each."""
    for number in range(count):
        read_fd, write_fd = os.pipe()
        await channel.send_fds(f"pipe {number}\n".encode(), [read_fd])
        os.close(read_fd)
        os.write(write_fd, f"data {number} from {os.getpid()}".encode())
        os.close(write_fd)
    return 0


async def test_a_child_sends_fds_to_its_parent() -> None:
    async with open_fork(send_pipe_back, 5, channel=True, check=True) as child:
        assert child.channel is not None
        for number in range(5):
            data, fds = await child.channel.receive_fds(100, 1)
            assert data == f"pipe {number}\n".encode()
            assert await read_pipe(fds[0]) == f"data {number} from {child.pid}".encode()


def blocking_receiver(channel: socket.socket) -> None:
    """A plain (non-aioipc) receiver: socket.recv_fds, then write through the fd."""
    data, fds, _, _ = socket.recv_fds(channel, 100, 4)
    for fd in fds:
        os.write(fd, data)
        os.close(fd)


async def test_a_plain_socket_peer_receives_what_send_fds_sent() -> None:
    read_fd, write_fd = os.pipe()
    async with open_fork(blocking_receiver, channel=True, check=True) as child:
        assert child.channel is not None
        await child.channel.send_fds(b"to a blocking peer", [write_fd])
        os.close(write_fd)
        assert await read_pipe(read_fd) == b"to a blocking peer"
