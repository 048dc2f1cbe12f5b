"""MessageQueue: real SysV queues, real second processes and Perl's IPC::SysV, on both loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sysv_ipc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sysv_data_helpers import SysVCleanup, kernel_objects

import aioipc
from aioipc._errors import SysVRemoved
from aioipc._sysv_poller import POLLER_THREADS, give_backs_done, pending_give_backs
from aioipc._sysv_queue import MessageQueue, QueueStats

HERE = Path(__file__).resolve().parent
PROGRAM = str(HERE / "sysv_data_program.py")
EXIT_PROGRAM = str(HERE / "sysv_exit_queue.py")
PERL_DIR = HERE / "interop" / "perl"
MSGMAX = int(Path("/proc/sys/kernel/msgmax").read_text())
MSGMNB = int(Path("/proc/sys/kernel/msgmnb").read_text())


@pytest.fixture
def sysv() -> Iterator[SysVCleanup]:
    cleanup = SysVCleanup()
    yield cleanup
    cleanup.finish()


def queue(sysv: SysVCleanup, *args: object, **kwargs: object) -> MessageQueue:
    """A MessageQueue the fixture removes even if the test fails."""
    mq = MessageQueue(*args, **kwargs)  # type: ignore[arg-type]
    sysv.track("msg", mq.id)
    return mq


def msg_ids() -> set[int]:
    return {ident for _, ident in kernel_objects("msg")}


async def still_waiting(task: asyncio.Task[object]) -> None:
    """Let the loop run a few rounds and check that ``task`` has not finished.

    Used only where nothing can let the task finish (the queue is empty or full and
    no other process touches it), so this is not a race.
    """
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()


# perlipc's example, and msgrcv's type rules


async def test_perlipc_round_trip(sysv: SysVCleanup) -> None:
    async with queue(sysv) as mq:
        await mq.send(b"message", type=1234)
        assert await mq.receive(type=0) == (b"message", 1234)
    assert mq.id not in msg_ids()


async def test_a_positive_type_takes_the_first_message_of_that_type(sysv: SysVCleanup) -> None:
    async with queue(sysv) as mq:
        for msg_type, text in [(3, b"three"), (1, b"one"), (2, b"two-a"), (2, b"two-b")]:
            await mq.send(text, type=msg_type)
        assert await mq.receive(type=2) == (b"two-a", 2)
        assert await mq.receive(type=0) == (b"three", 3)
        assert await mq.receive(type=2) == (b"two-b", 2)
        assert await mq.receive() == (b"one", 1)


async def test_a_negative_type_takes_the_lowest_type_up_to_its_size(sysv: SysVCleanup) -> None:
    async with queue(sysv) as mq:
        for msg_type, text in [(5, b"a"), (3, b"b"), (4, b"c"), (3, b"d")]:
            await mq.send(text, type=msg_type)
        assert await mq.receive(type=-4) == (b"b", 3)
        assert await mq.receive(type=-4) == (b"d", 3)
        assert await mq.receive(type=-4) == (b"c", 4)
        with pytest.raises(aioipc.IPCTimeoutError, match="type at most 4"):
            await mq.receive(type=-4, timeout=0)
        assert await mq.receive(type=-5) == (b"a", 5)


async def test_empty_messages_and_all_byte_values_round_trip(sysv: SysVCleanup) -> None:
    async with queue(sysv) as mq:
        await mq.send(b"")
        await mq.send(bytes(range(256)), type=7)
        await mq.send(bytearray(b"ba"))
        await mq.send(memoryview(b"mv"))
        assert await mq.receive() == (b"", 1)
        assert await mq.receive() == (bytes(range(256)), 7)
        assert await mq.receive() == (b"ba", 1)
        assert await mq.receive() == (b"mv", 1)


# waiting


async def test_a_receive_waits_for_a_message_from_another_process(sysv: SysVCleanup) -> None:
    key = sysv.key()
    async with queue(sysv, key) as mq:
        waiter = asyncio.ensure_future(mq.receive(type=2))
        await still_waiting(waiter)
        done = await aioipc.run_process(
            ["perl", str(PERL_DIR / "sysv_msg_send.pl"), str(key), "2", "wake up"], timeout=30
        )
        assert done.stdout == b"SENT\n"
        assert await waiter == (b"wake up", 2)


async def test_a_full_queue_makes_send_wait_until_another_process_receives(
    sysv: SysVCleanup,
) -> None:
    key = sysv.key()
    async with queue(sysv, key) as mq:
        half = b"x" * (MSGMNB // 2)
        await mq.send(b"A" + half[1:])
        await mq.send(b"B" + half[1:])
        sender = asyncio.ensure_future(mq.send(b"C" + half[1:]))
        await still_waiting(sender)
        done = await aioipc.run_process(
            [sys.executable, PROGRAM, "queue-receive", str(key), "0"], timeout=30
        )
        msg_type, payload = done.stdout.decode().split()
        assert msg_type == "1"
        assert bytes.fromhex(payload)[:1] == b"A"
        await sender
        assert mq.stats.messages == 2
        assert (await mq.receive())[0][:1] == b"B"
        assert (await mq.receive())[0][:1] == b"C"


async def test_timeouts_raise_timeout_error_naming_the_queue(sysv: SysVCleanup) -> None:
    async with queue(sysv) as mq:
        with pytest.raises(TimeoutError, match=r"no message of type 9 arrived .* within 0.05 s"):
            await mq.receive(type=9, timeout=0.05)
        with pytest.raises(aioipc.IPCTimeoutError, match="any type"):
            await mq.receive(timeout=0)
        half = b"x" * (MSGMNB // 2)
        await mq.send(half)
        await mq.send(half)
        with pytest.raises(aioipc.IPCTimeoutError, match=r"still full after 0\.05 s"):
            await mq.send(b"more", timeout=0.05)
        with pytest.raises(aioipc.IPCTimeoutError, match="still full"):
            await mq.send(b"more", timeout=0)
        assert mq.stats.messages == 2


async def test_a_cancelled_receive_takes_no_message(sysv: SysVCleanup) -> None:
    async with queue(sysv) as mq:
        waiter = asyncio.ensure_future(mq.receive())
        await still_waiting(waiter)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await mq.send(b"for the next receiver")
        assert await mq.receive(timeout=5) == (b"for the next receiver", 1)


async def test_a_cancelled_send_sends_nothing(sysv: SysVCleanup) -> None:
    async with queue(sysv) as mq:
        half = b"x" * (MSGMNB // 2)
        await mq.send(half)
        await mq.send(half)
        sender = asyncio.ensure_future(mq.send(b"never"))
        await still_waiting(sender)
        sender.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sender
        await mq.receive()
        await mq.receive()
        with pytest.raises(aioipc.IPCTimeoutError):
            await mq.receive(timeout=0)


def wait_until_taken(raw: sysv_ipc.MessageQueue) -> None:
    """Block the loop thread until the poller has taken every message from the queue.

    While the loop thread is held here, a receiver whose poll took a message cannot
    have been told: cancelling it next is the race a give-back exists for.
    """
    while raw.current_messages:
        time.sleep(0.0005)


async def test_a_message_taken_for_a_cancelled_receiver_goes_back_to_the_end(
    sysv: SysVCleanup,
) -> None:
    key = sysv.key()
    async with queue(sysv, key) as mq:
        raw = sysv_ipc.MessageQueue(key)
        receiver = asyncio.ensure_future(mq.receive(type=3))
        await still_waiting(receiver)
        raw.send(b"first", True, 3)
        wait_until_taken(raw)
        raw.send(b"second", True, 3)
        receiver.cancel()
        with pytest.raises(asyncio.CancelledError):
            await receiver
        # Given back by the cancelled receiver itself, before its cancellation ended.
        assert raw.current_messages == 2
        assert pending_give_backs() == 0
        assert await mq.receive(type=3, timeout=10) == (b"second", 3)
        assert await mq.receive(type=3, timeout=10) == (b"first", 3)


async def test_a_give_back_to_a_full_queue_waits_for_room(sysv: SysVCleanup) -> None:
    key = sysv.key()
    async with queue(sysv, key) as mq:
        raw = sysv_ipc.MessageQueue(key)
        receiver = asyncio.ensure_future(mq.receive(type=3))
        await still_waiting(receiver)
        raw.send(b"taken", True, 3)
        wait_until_taken(raw)
        fillers = 0
        with contextlib.suppress(sysv_ipc.BusyError):
            while True:
                raw.send(b"f" * 1024, False, 4)
                fillers += 1
        receiver.cancel()
        with pytest.raises(asyncio.CancelledError):
            await receiver
        assert pending_give_backs() == 1  # no room: retried by the first poller thread
        assert raw.current_messages == fillers
        for _ in range(fillers):
            assert await mq.receive(type=4, timeout=10) == (b"f" * 1024, 4)
        assert await mq.receive(type=3, timeout=10) == (b"taken", 3)
        assert pending_give_backs() == 0


async def test_a_give_back_waiting_for_room_ends_when_the_queue_is_removed(
    sysv: SysVCleanup, caplog: pytest.LogCaptureFixture
) -> None:
    key = sysv.key()
    mq = queue(sysv, key)
    raw = sysv_ipc.MessageQueue(key)
    receiver = asyncio.ensure_future(mq.receive(type=3))
    await still_waiting(receiver)
    raw.send(b"taken", True, 3)
    wait_until_taken(raw)
    with contextlib.suppress(sysv_ipc.BusyError):
        while True:
            raw.send(b"f" * 1024, False, 4)
    receiver.cancel()
    with pytest.raises(asyncio.CancelledError):
        await receiver
    assert pending_give_backs() == 1
    with caplog.at_level(logging.WARNING, logger="aioipc.sysv"):
        mq.remove()  # the message would have gone with the queue: nothing to wait for
        await asyncio.wait_for(give_backs_done(), 30)
    assert pending_give_backs() == 0
    assert caplog.records == []


def aioipc_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("aioipc-sysv"))


async def test_give_backs_to_a_full_queue_use_no_thread_of_their_own(sysv: SysVCleanup) -> None:
    """Fifty cancelled receivers whose messages must wait for room: no new threads.

    The loop thread is held until the pollers have taken all fifty messages, so no
    receiver has been told; the queue is then filled and all fifty are cancelled.
    """
    key = sysv.key()
    count = 50
    async with queue(sysv, key) as mq:
        raw = sysv_ipc.MessageQueue(key)
        threads_before = threading.active_count()
        receivers = [asyncio.ensure_future(mq.receive(type=3)) for _ in range(count)]
        for receiver in receivers:
            await still_waiting(receiver)
        for n in range(count):
            raw.send(n.to_bytes(2, "big"), True, 3)
        wait_until_taken(raw)
        fillers = 0
        with contextlib.suppress(sysv_ipc.BusyError):
            while True:
                raw.send(b"f" * 1024, False, 4)
                fillers += 1
        for receiver in receivers:
            receiver.cancel()
        results = await asyncio.gather(*receivers, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        assert pending_give_backs() == count
        assert raw.current_messages == fillers
        # Only the poller threads exist: no thread per message waiting for room.
        assert threading.active_count() <= threads_before + POLLER_THREADS
        assert set(aioipc_threads()) <= {f"aioipc-sysv-poller-{i}" for i in range(POLLER_THREADS)}
        for _ in range(fillers):
            raw.receive(False, 4)
        await asyncio.wait_for(give_backs_done(), 30)
        assert pending_give_backs() == 0
        assert threading.active_count() <= threads_before + POLLER_THREADS
        back = [int.from_bytes(raw.receive(False, 3)[0], "big") for _ in range(count)]
        assert sorted(back) == list(range(count))
        assert raw.current_messages == 0


# at exit: a message a poller took for a receiver that never saw it is not lost


@pytest.mark.parametrize(
    ("how", "full"),
    [
        ("aioipc.run", False),
        ("cancel", False),
        ("closed", False),
        ("cancel", True),
        ("closed", True),
    ],
)
async def test_a_message_taken_for_a_receiver_is_not_lost_when_the_program_ends(
    sysv: SysVCleanup, how: str, full: bool
) -> None:
    """tests/sysv_exit_queue.py, in a real process; the kernel's queue checked after.

    ``cancel`` and ``aioipc.run`` give back while the run ends; ``closed`` leaves it to
    interpreter exit.  With a full queue the program cannot give back before this test
    makes room: it must wait at exit, not drop the message.
    """
    key = sysv.key()
    raw = sysv_ipc.MessageQueue(key, sysv_ipc.IPC_CREX, 0o600)
    sysv.track("msg", raw.id)
    loop = "uvloop" if "uvloop" in type(asyncio.get_running_loop()).__module__ else "asyncio"
    argv = [sys.executable, EXIT_PROGRAM, str(key), loop, how, "1" if full else "0"]
    async with aioipc.open_process(argv, stdout=aioipc.PIPE) as proc:
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            fillers = 0
            if full:
                word, number = (await proc.stdout.readline()).split()
                assert word == b"FILLERS"
                fillers = int(number)
                assert fillers > 0
            word, outcome = (await proc.stdout.readline()).split()
            assert word == b"RECEIVER"
            assert outcome == {"cancel": b"cancelled", "closed": b"pending"}.get(how, outcome)
            if full:
                # Full: nothing can have gone back yet, and the program is waiting.
                assert raw.current_messages == fillers
                for _ in range(fillers):
                    assert raw.receive(False, 4) == (b"f" * 1024, 4)
            assert (await proc.wait()).code == 0
    left = []
    with contextlib.suppress(sysv_ipc.BusyError):
        while True:
            left.append(raw.receive(False, 0))
    if outcome == b"received":  # the receiver got it before the run ended (uvloop)
        assert left == []
    else:
        assert left == [(b"precious", 3)]
    raw.remove()


async def test_removal_by_another_process_wakes_waiters_with_sysv_removed(
    sysv: SysVCleanup,
) -> None:
    mq = queue(sysv, remove_on_exit=False)
    receiver = asyncio.ensure_future(mq.receive())
    await still_waiting(receiver)
    await aioipc.run_process(["ipcrm", "-q", str(mq.id)], timeout=30)
    with pytest.raises(
        SysVRemoved, match=rf"private message queue \(id {mq.id}\) was removed while"
    ):
        await receiver
    with pytest.raises(SysVRemoved, match="no longer exists"):
        await mq.send(b"too late")
    with pytest.raises(SysVRemoved):
        mq.stats  # noqa: B018
    with pytest.raises(SysVRemoved):
        mq.remove()


async def test_removal_wakes_a_waiting_sender(sysv: SysVCleanup) -> None:
    mq = queue(sysv)
    half = b"x" * (MSGMNB // 2)
    await mq.send(half)
    await mq.send(half)
    sender = asyncio.ensure_future(mq.send(half))
    await still_waiting(sender)
    mq.remove()
    with pytest.raises(SysVRemoved, match="removed while"):
        await sender
    mq.remove()  # already removed by this object: nothing to do


async def test_many_waiters_are_served(sysv: SysVCleanup) -> None:
    async with queue(sysv) as mq:
        waiters = [asyncio.ensure_future(mq.receive(type=n % 3 + 1)) for n in range(60)]
        for n in range(60):
            await mq.send(n.to_bytes(2, "big"), type=n % 3 + 1)
        got = await asyncio.wait_for(asyncio.gather(*waiters), 30)
        assert sorted(int.from_bytes(m, "big") for m, _ in got) == list(range(60))
        assert all(int.from_bytes(m, "big") % 3 + 1 == t for m, t in got)


async def test_two_process_ping_pong(sysv: SysVCleanup) -> None:
    key = sysv.key()
    rounds = 200
    async with (
        queue(sysv, key) as mq,
        aioipc.open_process(
            [sys.executable, PROGRAM, "queue-ponger", str(key), str(rounds)],
            stdout=aioipc.PIPE,
        ) as ponger,
    ):
        assert ponger.stdout is not None
        assert await ponger.stdout.readline() == b"READY"
        for n in range(rounds):
            ping = f"ping {n}".encode()
            await mq.send(ping, type=1)
            assert await mq.receive(type=2, timeout=30) == (ping, 2)
        assert (await ponger.wait()).code == 0
        assert mq.stats.messages == 0


# the property: nothing lost, nothing duplicated, whatever is cancelled when


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    receivers=st.lists(
        st.tuples(st.sampled_from([0, 1, 2, -1, -2]), st.floats(0, 0.004)),
        min_size=1,
        max_size=25,
    ),
    sends=st.lists(st.tuples(st.sampled_from([1, 2]), st.floats(0, 0.002)), max_size=30),
)
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_cancelled_receivers_never_lose_or_duplicate_a_message(
    sysv: SysVCleanup,
    loop: str,
    receivers: list[tuple[int, float]],
    sends: list[tuple[int, float]],
) -> None:
    async def scenario() -> None:
        async with queue(sysv) as mq:
            tasks = [asyncio.ensure_future(mq.receive(type=t)) for t, _ in receivers]

            async def cancel_later(task: asyncio.Task[tuple[bytes, int]], after: float) -> None:
                await asyncio.sleep(after)
                task.cancel()

            async def send_all() -> None:
                for n, (msg_type, pause) in enumerate(sends):
                    await mq.send(n.to_bytes(2, "big"), type=msg_type)
                    await asyncio.sleep(pause)

            cancellers = [
                cancel_later(task, after)
                for task, (_, after) in zip(tasks, receivers, strict=True)
            ]
            await asyncio.gather(send_all(), *cancellers)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            delivered = Counter()
            for result in results:
                if isinstance(result, tuple):
                    delivered[int.from_bytes(result[0], "big")] += 1
                else:
                    assert isinstance(result, asyncio.CancelledError)
            # What no completed receiver got is in the queue now: a message a cancelled
            # poll took was sent back by the cancelled receiver itself (never full here).
            assert mq.stats.messages == len(sends) - sum(delivered.values())
            while sum(delivered.values()) < len(sends):
                message, _ = await mq.receive(timeout=0)
                delivered[int.from_bytes(message, "big")] += 1
            assert delivered == Counter(range(len(sends)))
            with pytest.raises(aioipc.IPCTimeoutError):
                await mq.receive(timeout=0)

    with asyncio.Runner(loop_factory=aioipc.loop_factory(loop)) as runner:
        runner.run(scenario())


# size limits


async def test_a_message_larger_than_max_size_is_refused(sysv: SysVCleanup) -> None:
    async with queue(sysv, max_size=100) as mq:
        assert mq.max_size == 100
        with pytest.raises(ValueError, match="101 bytes is larger than max_size=100"):
            await mq.send(b"x" * 101)
        await mq.send(b"x" * 100)
        assert await mq.receive() == (b"x" * 100, 1)
    async with queue(sysv) as mq:
        assert mq.max_size == MSGMAX
        with pytest.raises(ValueError, match="the kernel's msgmax"):
            await mq.send(b"x" * (MSGMAX + 1))


async def test_a_waiting_message_bigger_than_max_size_stays_queued(sysv: SysVCleanup) -> None:
    key = sysv.key()
    async with queue(sysv, key) as big, queue(sysv, key, max_size=10) as small:
        await big.send(b"x" * 11, type=4)
        with pytest.raises(ValueError, match="larger than max_size=10; it was left"):
            await small.receive()
        assert await big.receive() == (b"x" * 11, 4)


async def test_a_message_larger_than_the_queue_can_hold_is_refused(sysv: SysVCleanup) -> None:
    key = sysv.key()
    async with queue(sysv, key) as mq:
        sysv_ipc.MessageQueue(key).max_size = 100  # msg_qbytes, as root may set it
        assert mq.stats.max_bytes == 100
        with pytest.raises(ValueError, match=r"200 bytes can never fit .* at most 100 bytes"):
            await mq.send(b"x" * 200)
        await mq.send(b"x" * 100)
        assert mq.stats.messages == 1


async def test_max_size_outside_the_kernel_limit_is_refused() -> None:
    with pytest.raises(ValueError, match=f"msgmax \\({MSGMAX} bytes"):
        MessageQueue(max_size=MSGMAX + 1)
    with pytest.raises(ValueError, match="max_size must be between 1"):
        MessageQueue(max_size=0)


# stats


async def test_stats_report_the_kernel_record(sysv: SysVCleanup) -> None:
    async with queue(sysv) as mq:
        fresh = mq.stats
        assert fresh == QueueStats(0, MSGMNB, 0, 0, 0.0, 0.0)
        await mq.send(b"one")
        await mq.send(b"two")
        sent = mq.stats
        assert (sent.messages, sent.last_send_pid, sent.last_receive_pid) == (2, os.getpid(), 0)
        assert sent.last_send_time > 0
        assert sent.last_receive_time == 0
        await mq.receive()
        received = mq.stats
        assert (received.messages, received.last_receive_pid) == (1, os.getpid())
        assert received.last_receive_time >= sent.last_send_time


# create / open / remove


async def test_create_open_and_exclusive(sysv: SysVCleanup) -> None:
    key = sysv.key()
    with pytest.raises(FileNotFoundError, match=f"no SysV message queue with key {key:#010x}"):
        MessageQueue(key, create=False)
    async with queue(sysv, key, exclusive=True) as creator:
        with pytest.raises(FileExistsError, match="already exists"):
            MessageQueue(key, exclusive=True)
        async with queue(sysv, key, create=False) as opener:
            assert opener.id == creator.id
            await opener.send(b"through the opener")
        assert creator.id in msg_ids()  # the opener did not remove it
        assert await creator.receive() == (b"through the opener", 1)
    assert creator.id not in msg_ids()


async def test_remove_on_exit_overrides(sysv: SysVCleanup) -> None:
    key = sysv.key()
    async with queue(sysv, key, remove_on_exit=False) as kept:
        pass
    assert kept.id in msg_ids()
    with queue(sysv, key, create=False, remove_on_exit=True) as remover:
        assert remover.id == kept.id
    assert kept.id not in msg_ids()


async def test_a_queue_is_removed_even_when_the_block_raises(sysv: SysVCleanup) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with queue(sysv) as mq:
            raise RuntimeError("boom")
    assert mq.id not in msg_ids()


async def test_bad_arguments_are_named(sysv: SysVCleanup) -> None:
    with pytest.raises(ValueError, match="create=False needs a key"):
        MessageQueue(create=False)
    with pytest.raises(ValueError, match="needs create=True"):
        MessageQueue(1234, create=False, exclusive=True)
    with pytest.raises(TypeError, match="key must be an int"):
        MessageQueue(b"key")  # type: ignore[arg-type]
    async with queue(sysv) as mq:
        with pytest.raises(ValueError, match="type must be between 1 and 2\\*\\*31 - 1, not 0"):
            await mq.send(b"x", type=0)
        with pytest.raises(ValueError, match="not -3"):
            await mq.send(b"x", type=-3)
        with pytest.raises(ValueError, match="type must be between"):
            await mq.receive(type=2**31)
        with pytest.raises(TypeError, match="encode it first"):
            await mq.send("text")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="timeout must be a non-negative number"):
            await mq.receive(timeout=-1)
        with pytest.raises(ValueError, match="timeout must be a non-negative number"):
            await mq.send(b"x", timeout=float("nan"))
        with pytest.raises(TypeError, match="timeout must be a number"):
            await mq.send(b"x", timeout="1")  # type: ignore[arg-type]
        assert mq.stats.messages == 0


# Perl's IPC::SysV on the same key


async def test_perl_sends_a_message_aioipc_receives(sysv: SysVCleanup) -> None:
    key = sysv.key()
    async with queue(sysv, key) as mq:
        await aioipc.run_process(
            ["perl", str(PERL_DIR / "sysv_msg_send.pl"), str(key), "1234", "message"],
            timeout=30,
        )
        assert await mq.receive(timeout=5) == (b"message", 1234)


async def test_aioipc_sends_a_message_a_blocked_perl_receives(sysv: SysVCleanup) -> None:
    key = sysv.key()
    async with (
        queue(sysv, key) as mq,
        aioipc.open_process(
            ["perl", str(PERL_DIR / "sysv_msg_receive.pl"), str(key), "-5"],
            stdout=aioipc.PIPE,
        ) as perl,
    ):
        assert perl.stdout is not None
        assert await perl.stdout.readline() == b"READY"
        await mq.send(b"too high", type=9)
        await mq.send(b"message", type=5)
        assert await perl.stdout.readline() == b"5 message"
        assert (await perl.wait()).code == 0
        assert await mq.receive(timeout=0) == (b"too high", 9)
