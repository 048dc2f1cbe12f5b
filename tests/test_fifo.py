"""FIFOs: mkfifo, is_fifo and open_fifo, against real FIFOs and real peer programs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import stat
import threading
from pathlib import Path

import anyio
import pytest

import aioipc

needs_perl = pytest.mark.skipif(shutil.which("perl") is None, reason="needs perl")


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    aioipc.mkfifo(path)
    return path


async def _started(task: asyncio.Task[object]) -> None:
    """Let ``task`` run up to its first wait, and check that it is still waiting.

    More than a yield: a byte is sent through a socketpair and received, which takes
    the loop through its fd polling, so an fd that ``task`` waits on and that were
    ready (a spurious EOF, say) would have been reported meanwhile.
    """
    await asyncio.sleep(0)
    left, right = await aioipc.socketpair()
    async with left, right:
        await left.send(b"!")
        assert await right.receive() == b"!"
    assert not task.done()


# mkfifo and is_fifo


def test_mkfifo_creates_a_private_fifo(tmp_path: Path) -> None:
    path = tmp_path / "f"
    aioipc.mkfifo(path)
    mode = os.lstat(path).st_mode
    assert stat.S_ISFIFO(mode)
    assert stat.S_IMODE(mode) & 0o077 == 0
    assert aioipc.is_fifo(path)
    assert aioipc.is_fifo(str(path))


def test_mkfifo_exist_ok_accepts_an_existing_fifo_only(tmp_path: Path) -> None:
    path = tmp_path / "f"
    aioipc.mkfifo(path)
    aioipc.mkfifo(path, exist_ok=True)
    with pytest.raises(FileExistsError, match="is a FIFO"):
        aioipc.mkfifo(path)
    regular = tmp_path / "regular"
    regular.write_text("keep me")
    with pytest.raises(FileExistsError, match=r"regular.*a regular file"):
        aioipc.mkfifo(regular, exist_ok=True)
    assert regular.read_text() == "keep me"
    link = tmp_path / "link"
    link.symlink_to(path)
    with pytest.raises(FileExistsError, match="a symbolic link"):
        aioipc.mkfifo(link, exist_ok=True)
    with pytest.raises(FileExistsError, match="a directory"):
        aioipc.mkfifo(tmp_path, exist_ok=True)


def test_is_fifo_is_false_for_anything_else(tmp_path: Path) -> None:
    (tmp_path / "regular").write_text("")
    assert not aioipc.is_fifo(tmp_path / "regular")
    assert not aioipc.is_fifo(tmp_path / "missing")
    assert not aioipc.is_fifo(tmp_path)


# open_fifo: arguments


async def test_open_fifo_refuses_a_bad_mode(fifo: Path) -> None:
    with pytest.raises(ValueError, match="'rw'"):
        aioipc.open_fifo(fifo, "rw")
    with pytest.raises(ValueError, match="keep_open"):
        aioipc.open_fifo(fifo, "w", keep_open=True)


async def test_open_fifo_refuses_what_is_not_a_fifo(tmp_path: Path) -> None:
    regular = tmp_path / "regular"
    regular.write_text("")
    for mode in ("r", "w"):
        with pytest.raises(ValueError, match=r"not a FIFO: it is a regular file"):
            async with aioipc.open_fifo(regular, mode):
                pass
        with pytest.raises(FileNotFoundError):
            async with aioipc.open_fifo(tmp_path / "missing", mode):
                pass


# open_fifo: connecting


async def test_reader_opened_before_the_writer(fifo: Path) -> None:
    async with aioipc.open_fifo(fifo, "r") as reader:
        receiving = asyncio.create_task(reader.receive())
        await _started(receiving)  # no EOF before any writer came
        async with aioipc.open_fifo(fifo, "w") as writer:
            await writer.send(b"hello")
            assert await receiving == b"hello"
        with pytest.raises(anyio.EndOfStream):
            await reader.receive()


async def test_writer_opened_before_the_reader(fifo: Path) -> None:
    async def write() -> None:
        async with aioipc.open_fifo(fifo, "w") as writer:
            await writer.send_line(b"first")

    writing = asyncio.create_task(write())
    await _started(writing)
    async with aioipc.open_fifo(fifo, "r") as reader:
        await writing
        assert [line async for line in reader.lines()] == [b"first"]


async def test_other_tasks_run_while_a_writer_waits_for_its_reader(fifo: Path) -> None:
    counter = 0
    counted_enough = asyncio.Event()

    async def count() -> None:
        nonlocal counter
        while True:
            counter += 1
            if counter == 1000:
                counted_enough.set()
            await asyncio.sleep(0)

    async def open_writer() -> int:
        async with aioipc.open_fifo(fifo, "w") as writer:
            opened_at = counter
            await writer.send(b"waited for")
        return opened_at

    def blocking_reader() -> bytes:
        # A real reader blocked in open(), as `cat fifo` would be.
        fd = os.open(fifo, os.O_RDONLY)
        try:
            data = b""
            while chunk := os.read(fd, 100):
                data += chunk
            return data
        finally:
            os.close(fd)

    counting = asyncio.create_task(count())
    opening = asyncio.create_task(open_writer())
    reading: asyncio.Task[bytes] | None = None
    try:
        # No reader exists, so the open cannot have completed; meanwhile the counter
        # task ran a thousand times: the wait does not hold the loop.
        await counted_enough.wait()
        assert not opening.done()
        reading = asyncio.create_task(asyncio.to_thread(blocking_reader))
        opened_at = await opening
        assert await reading == b"waited for"
        assert opened_at >= 1000
    finally:
        counting.cancel()
        opening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await counting
        if reading is not None and not reading.done():
            # The test failed with the reader's thread in open(): let it out.
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            with contextlib.suppress(Exception):
                await reading


async def test_cancelling_a_waiting_open_leaves_no_fd_and_no_thread(fifo: Path) -> None:
    threads = threading.active_count()
    fds = set(os.listdir("/proc/self/fd"))

    async def open_writer() -> None:
        async with aioipc.open_fifo(fifo, "w"):
            pytest.fail("opened a FIFO's write end with no reader")

    opening = asyncio.create_task(open_writer())
    await _started(opening)
    assert threading.active_count() == threads  # the wait holds no thread
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    assert threading.active_count() == threads
    assert set(os.listdir("/proc/self/fd")) == fds


async def test_eof_when_the_last_writer_closes(fifo: Path) -> None:
    async with aioipc.open_fifo(fifo, "r") as reader:
        async with aioipc.open_fifo(fifo, "w") as first:
            async with aioipc.open_fifo(fifo, "w") as second:
                await first.send(b"one ")
                await first.aclose()
                await second.send(b"two")
            assert await reader.receive_exactly(7) == b"one two"
        with pytest.raises(anyio.EndOfStream):
            await reader.receive()


async def test_keep_open_reader_outlives_writers(fifo: Path) -> None:
    async with aioipc.open_fifo(fifo, "r", keep_open=True) as reader:
        for number in range(2):
            async with aioipc.open_fifo(fifo, "w") as writer:
                await writer.send_line(b"writer %d" % number)
        # Both writers have gone and the reader still reads: no EOF came between them.
        assert await reader.readline() == b"writer 0"
        assert await reader.readline() == b"writer 1"
        async with aioipc.open_fifo(fifo, "w") as writer:
            await writer.send_line(b"writer 2")
        assert await reader.readline() == b"writer 2"
        pending = asyncio.create_task(reader.receive())
        await _started(pending)  # waiting for more, not at EOF
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending


async def test_writer_gets_broken_pipe_when_the_reader_goes(fifo: Path) -> None:
    async with aioipc.open_fifo(fifo, "r") as reader, aioipc.open_fifo(fifo, "w") as writer:
        await writer.send(b"unread")
        await reader.aclose()
        # A send may be taken before the loop has seen the reader go: keep sending.
        with pytest.raises(aioipc.BrokenPipe) as caught:
            await _send_until_it_fails(writer)
        assert isinstance(caught.value, BrokenPipeError)


async def _send_until_it_fails(stream: aioipc.Stream) -> None:
    for _ in range(100):
        await stream.send(b"data" * 1000)


# open_fifo: peers that block in open()


async def _reap(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
    await process.wait()


async def test_cat_blocked_in_open_is_a_reader(fifo: Path) -> None:
    cat = await asyncio.create_subprocess_exec(
        "cat", str(fifo), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE
    )
    try:
        async with aioipc.open_fifo(fifo, "w") as writer:
            await writer.send_line(b"to cat")
        output, _ = await cat.communicate()
        assert output == b"to cat\n"
        assert cat.returncode == 0
    finally:
        await _reap(cat)


@needs_perl
async def test_perl_writer_blocked_in_open(fifo: Path) -> None:
    perl = await asyncio.create_subprocess_exec(
        "perl",
        "-e",
        'open my $f, ">", shift or die "open: $!"; print $f "from perl\\n"; close $f or die',
        str(fifo),
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        async with aioipc.open_fifo(fifo, "r") as reader:
            assert [line async for line in reader.lines()] == [b"from perl"]
        assert await perl.wait() == 0
    finally:
        await _reap(perl)


@needs_perl
async def test_perl_reader_blocked_in_open(fifo: Path) -> None:
    perl = await asyncio.create_subprocess_exec(
        "perl",
        "-e",
        'open my $f, "<", shift or die "open: $!"; print <$f>',
        str(fifo),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        async with aioipc.open_fifo(fifo, "w") as writer:
            await writer.send_line(b"to perl")
        output, _ = await perl.communicate()
        assert output == b"to perl\n"
        assert perl.returncode == 0
    finally:
        await _reap(perl)
