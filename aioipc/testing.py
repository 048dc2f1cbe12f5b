"""A reusable conformance suite for byte streams.

Every byte channel aioipc offers must behave the same way.  aioipc's own tests run
these checks on pipes, socketpairs, TCP and Unix sockets (FIFOs and ptys join them
with their openers).  These checks pin that behaviour down, and they are public
so that code which builds its own channels on :class:`aioipc.Stream` can run them too::

    from aioipc.testing import check_two_way_stream

    async def test_my_channel():
        await check_two_way_stream(make_my_pair)

A *pair factory* is an async callable returning ``(sender, receiver)``: two connected
streams, data sent on the first arriving on the second.  Each check calls the factory
as often as it needs and closes every stream it got.  A failed check raises
:class:`AssertionError` saying what went wrong.

The checks never measure time.  Where a check must know that a task is blocked (a
sender held back by back-pressure), it lets the event loop run until the task has made
no progress for many consecutive iterations.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable

import anyio

from ._streams import Stream

__all__ = [
    "ONE_WAY_CHECKS",
    "PairFactory",
    "check_back_pressure",
    "check_cancel_receive",
    "check_cancel_send",
    "check_close_own_stream_while_waiting",
    "check_close_while_peer_waits",
    "check_concurrent_receive_refused",
    "check_end_of_stream",
    "check_half_close",
    "check_half_closeable_stream",
    "check_one_way_stream",
    "check_receive_limit",
    "check_send_receive",
    "check_two_way_stream",
    "check_use_after_close",
]

PairFactory = Callable[[], Awaitable[tuple[Stream, Stream]]]

#: Iterations of the loop without progress after which a task counts as blocked.
_IDLE_ITERATIONS = 200
#: Enough data to fill any kernel buffer aioipc is used with (pipes hold 64 KiB to
#: 1 MiB, Unix and TCP sockets a few MiB at most on loopback).
_CLOG_BYTES = 64 * 1024 * 1024


async def _close_all(*streams: Stream) -> None:
    for stream in streams:
        await stream.aclose()


async def _run_until_stalled(progress: Callable[[], int], task: asyncio.Task[object]) -> None:
    """Let the loop run until ``task`` is done or ``progress()`` stops changing."""
    last, idle = progress(), 0
    while idle < _IDLE_ITERATIONS and not task.done():
        await asyncio.sleep(0)
        now = progress()
        idle = idle + 1 if now == last else 0
        last = now


async def _receive_all(stream: Stream) -> bytes:
    chunks = []
    while True:
        try:
            chunks.append(await stream.receive())
        except anyio.EndOfStream:
            return b"".join(chunks)


async def check_send_receive(make_pair: PairFactory) -> None:
    """Bytes arrive complete and in order, in chunks of any size."""
    sender, receiver = await make_pair()
    try:
        payload = os.urandom(300_000)
        pieces = [payload[i : i + 7919] for i in range(0, len(payload), 7919)]

        async def send_all() -> None:
            for piece in pieces:
                await sender.send(piece)
            await sender.send(b"")  # an empty send is allowed and sends nothing
            await sender.aclose()

        task = asyncio.create_task(send_all())
        received = await _receive_all(receiver)
        await task
        assert received == payload, "the receiver got different bytes than were sent"
    finally:
        await _close_all(sender, receiver)


async def check_receive_limit(make_pair: PairFactory) -> None:
    """``receive(n)`` never returns more than ``n`` bytes, and rejects ``n < 1``."""
    sender, receiver = await make_pair()
    try:
        await sender.send(b"abcdefghij")
        got = b""
        while len(got) < 10:
            chunk = await receiver.receive(3)
            assert 1 <= len(chunk) <= 3, f"receive(3) returned {len(chunk)} bytes"
            got += chunk
        assert got == b"abcdefghij"
        try:
            await receiver.receive(0)
        except ValueError:
            pass
        else:
            raise AssertionError("receive(0) did not raise ValueError")
    finally:
        await _close_all(sender, receiver)


async def check_end_of_stream(make_pair: PairFactory) -> None:
    """Closing the sender gives the receiver its data, then EndOfStream, repeatedly."""
    sender, receiver = await make_pair()
    try:
        await sender.send(b"last words")
        await sender.aclose()
        assert await _receive_all(receiver) == b"last words"
        for _ in range(2):
            try:
                await receiver.receive()
            except anyio.EndOfStream:
                pass
            else:
                raise AssertionError("receive() after EOF did not raise EndOfStream")
    finally:
        await _close_all(sender, receiver)


async def check_close_while_peer_waits(make_pair: PairFactory) -> None:
    """A receiver blocked in receive() wakes with EndOfStream when the sender closes."""
    sender, receiver = await make_pair()
    try:
        waiting = asyncio.create_task(receiver.receive())
        await _run_until_stalled(lambda: 0, waiting)
        assert not waiting.done(), "receive() returned with nothing sent"
        await sender.aclose()
        try:
            await waiting
        except anyio.EndOfStream:
            pass
        else:
            raise AssertionError("a waiting receive() did not end with EndOfStream")
    finally:
        await _close_all(sender, receiver)


async def check_close_own_stream_while_waiting(make_pair: PairFactory) -> None:
    """Closing a stream wakes its own blocked receiver with ClosedResourceError."""
    sender, receiver = await make_pair()
    try:
        waiting = asyncio.create_task(receiver.receive())
        await _run_until_stalled(lambda: 0, waiting)
        await receiver.aclose()
        try:
            await waiting
        except anyio.ClosedResourceError:
            pass
        else:
            raise AssertionError("receive() on a stream closed meanwhile did not raise")
    finally:
        await _close_all(sender, receiver)


async def check_use_after_close(make_pair: PairFactory) -> None:
    """aclose() is idempotent; later send() and receive() raise ClosedResourceError."""
    sender, receiver = await make_pair()
    await sender.aclose()
    await sender.aclose()
    await receiver.aclose()
    await receiver.aclose()
    for operation in (lambda: sender.send(b"x"), lambda: receiver.receive()):
        try:
            await operation()
        except anyio.ClosedResourceError:
            pass
        else:
            raise AssertionError("an operation on a closed stream did not raise")


async def check_concurrent_receive_refused(make_pair: PairFactory) -> None:
    """A second task receiving at the same time gets BusyResourceError."""
    sender, receiver = await make_pair()
    try:
        first = asyncio.create_task(receiver.receive())
        await _run_until_stalled(lambda: 0, first)
        try:
            await receiver.receive()
        except anyio.BusyResourceError:
            pass
        else:
            raise AssertionError("a concurrent receive() was not refused")
        await sender.send(b"x")
        assert await first == b"x"
    finally:
        await _close_all(sender, receiver)


async def check_back_pressure(make_pair: PairFactory) -> None:
    """A sender whose peer does not read is held back; nothing is buffered without bound."""
    sender, receiver = await make_pair()
    try:
        chunk = b"z" * 65536
        sent = 0

        async def flood() -> None:
            nonlocal sent
            while sent < _CLOG_BYTES:
                await sender.send(chunk)
                sent += len(chunk)
            await sender.aclose()

        task = asyncio.create_task(flood())
        await _run_until_stalled(lambda: sent, task)
        assert not task.done(), f"{_CLOG_BYTES} bytes were accepted with no reader"
        held_back_at = sent
        received = 0
        while True:
            try:
                received += len(await receiver.receive())
            except anyio.EndOfStream:
                break
        await task
        assert received == _CLOG_BYTES, f"received {received} of {_CLOG_BYTES} bytes"
        assert held_back_at < _CLOG_BYTES
    finally:
        await _close_all(sender, receiver)


async def check_cancel_receive(make_pair: PairFactory) -> None:
    """Cancelling a receive() loses no data, even when data and cancel arrive together."""
    sender, receiver = await make_pair()
    try:
        # A receive cancelled while nothing has arrived.
        waiting = asyncio.create_task(receiver.receive())
        await _run_until_stalled(lambda: 0, waiting)
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        # Data arrives and the receiver is cancelled around the same loop iteration:
        # whatever a receive() returned plus what is read afterwards is all that was sent.
        sent = bytearray()
        got = bytearray()
        for round_number in range(50):
            message = f"message {round_number};".encode()
            waiting = asyncio.create_task(receiver.receive())
            await asyncio.sleep(0)
            await sender.send(message)
            sent += message
            for _ in range(round_number % 5):
                await asyncio.sleep(0)
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                got += await waiting
        await sender.aclose()
        got += await _receive_all(receiver)
        assert got == sent, "a cancelled receive() lost or duplicated data"
    finally:
        await _close_all(sender, receiver)


async def check_cancel_send(make_pair: PairFactory) -> None:
    """A send() cancelled while held back has queued all its data or none; order holds."""
    sender, receiver = await make_pair()
    try:
        sent = bytearray()
        stop = False

        async def flood() -> None:
            counter = 0
            while not stop:
                block = counter.to_bytes(4, "big") * 4096
                await sender.send(block)
                sent.extend(block)
                counter += 1

        task = asyncio.create_task(flood())
        await _run_until_stalled(lambda: len(sent), task)
        assert not task.done()
        stop = True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # The stream is still usable after the cancelled send.  aclose() flushes, so
        # the receiver must be draining while the sender finishes.
        draining = asyncio.create_task(_receive_all(receiver))
        await sender.send(b"END")
        await sender.aclose()
        received = await draining
        assert received.endswith(b"END"), "the stream was unusable after a cancelled send"
        body = received[:-3]
        assert body.startswith(bytes(sent)), "data sent before the cancellation was lost"
        extra = body[len(sent) :]
        assert len(extra) in (0, 4 * 4096), (
            f"the cancelled send() delivered {len(extra)} bytes: neither all nor none"
        )
    finally:
        await _close_all(sender, receiver)


async def check_half_close(make_pair: PairFactory) -> None:
    """send_eof() ends one direction; the other still works both ways round."""
    left, right = await make_pair()
    try:
        await left.send(b"question")
        await left.send_eof()
        assert await _receive_all(right) == b"question"
        await right.send(b"answer")
        await right.send_eof()
        assert await _receive_all(left) == b"answer"
        try:
            await left.send(b"more")
        except anyio.ClosedResourceError:
            pass
        else:
            raise AssertionError("send() after send_eof() did not raise")
    finally:
        await _close_all(left, right)


def _reversed(make_pair: PairFactory) -> PairFactory:
    async def make() -> tuple[Stream, Stream]:
        first, second = await make_pair()
        return second, first

    return make


#: The one-way checks, by name, for parametrising a test.
ONE_WAY_CHECKS: dict[str, Callable[[PairFactory], Awaitable[None]]] = {
    "send_receive": check_send_receive,
    "receive_limit": check_receive_limit,
    "end_of_stream": check_end_of_stream,
    "close_while_peer_waits": check_close_while_peer_waits,
    "close_own_stream_while_waiting": check_close_own_stream_while_waiting,
    "use_after_close": check_use_after_close,
    "concurrent_receive_refused": check_concurrent_receive_refused,
    "back_pressure": check_back_pressure,
    "cancel_receive": check_cancel_receive,
    "cancel_send": check_cancel_send,
}


async def check_one_way_stream(make_pair: PairFactory) -> None:
    """Run every one-way check on streams from ``make_pair``.

    Raises:
        AssertionError: a check failed; the message says which behaviour broke.
    """
    for check in ONE_WAY_CHECKS.values():
        await check(make_pair)


async def check_two_way_stream(make_pair: PairFactory) -> None:
    """Run the one-way checks in both directions.

    Raises:
        AssertionError: as :func:`check_one_way_stream`.
    """
    await check_one_way_stream(make_pair)
    await check_one_way_stream(_reversed(make_pair))


async def check_half_closeable_stream(make_pair: PairFactory) -> None:
    """Run the two-way checks and the half-close check.

    Raises:
        AssertionError: as :func:`check_one_way_stream`.
    """
    await check_two_way_stream(make_pair)
    await check_half_close(make_pair)
