"""The SysV waiting machinery (aioipc._sysv_poller) with real kernel semaphores."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sysv_ipc
from sysv_data_helpers import SysVCleanup

import aioipc
from aioipc import _sysv_poller, sysv
from aioipc._sysv_poller import (
    POLLER_THREADS,
    finish_give_backs,
    give_backs_done,
    pending_give_backs,
    poller_threads,
    wait_for,
)

HERE = Path(__file__).resolve().parent


@pytest.fixture
def objects() -> Iterator[SysVCleanup]:
    cleanup = SysVCleanup()
    yield cleanup
    cleanup.finish()


def raw_semaphore(objects: SysVCleanup, value: int = 0) -> sysv_ipc.Semaphore:
    sem = sysv_ipc.Semaphore(sysv_ipc.IPC_PRIVATE, sysv_ipc.IPC_CREX, 0o600, value)
    objects.track("sem", sem.id)
    sem.block = False
    return sem


async def test_a_thousand_waiters_need_only_the_poller_threads(objects: SysVCleanup) -> None:
    sem = sysv.Semaphore(undo=False)
    objects.track("sem", sem.id)
    before = threading.active_count()
    tasks = [asyncio.ensure_future(sem.acquire()) for _ in range(1000)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert not any(task.done() for task in tasks)
    assert threading.active_count() <= before + POLLER_THREADS
    sem.release(1000)
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert threading.active_count() <= before + POLLER_THREADS
    assert sem.value == 0


async def test_a_real_eintr_in_a_poller_thread_is_retried(objects: SysVCleanup) -> None:
    """A poller thread blocked in a real semop gets a real EINTR; the wait goes on.

    The installed wheel's attempts are non-blocking and almost never see EINTR, so
    this test makes the first attempt a *blocking* semop on a second semaphore, sends
    SIGUSR1 to that thread once the kernel shows it blocked, and checks that
    sysv_ipc's "Signaled while waiting" error was raised in the thread and retried.
    """
    target = raw_semaphore(objects)
    blocker = raw_semaphore(objects)
    blocker.block = True
    seen: list[BaseException] = []
    thread_ids: list[int] = []

    def attempt() -> str:
        if not seen:
            thread_ids.append(threading.get_ident())
            try:
                blocker.acquire()  # blocks in the kernel until interrupted
            except BaseException as exc:
                seen.append(exc)
                raise
        target.acquire()
        return "got it"

    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: None)
    try:
        task = asyncio.ensure_future(
            wait_for(attempt, queue=("test", target.id), describe="t", undo=None, try_first=False)
        )
        while blocker.waiting_for_nonzero == 0:  # the thread is now in semop
            await asyncio.sleep(0.001)
        signal.pthread_kill(thread_ids[0], signal.SIGUSR1)
        while not seen:
            await asyncio.sleep(0.001)
        assert not task.done()
        target.release()
        assert await asyncio.wait_for(task, 10) == "got it"
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert isinstance(seen[0], sysv_ipc.Error)
    assert "Signaled" in str(seen[0])


async def test_waiters_survive_a_signal_storm(objects: SysVCleanup) -> None:
    """Signals to the process while 50 waiters are polled: all are still served."""
    sem = sysv.Semaphore(undo=False)
    objects.track("sem", sem.id)
    caught = 0

    def count(signum: int, frame: object) -> None:
        nonlocal caught
        caught += 1

    previous = signal.signal(signal.SIGUSR1, count)
    try:
        tasks = [asyncio.ensure_future(sem.acquire()) for _ in range(50)]
        for _ in range(200):
            signal.raise_signal(signal.SIGUSR1)
            await asyncio.sleep(0)
        sem.release(50)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert caught == 200
    assert sem.value == 0


def start_a_waiter_that_gets_a_unit_while_cancelled(
    target: sysv_ipc.Semaphore, undo: Callable[[str], object]
) -> tuple[asyncio.Task[str], threading.Event, threading.Event]:
    """A waiter whose attempt, in a poller thread, succeeds only once told to.

    Returns the task, an event set once the attempt is running, and the event that
    lets it return ``"unit"``: cancel the task in between to force the race where a
    poller gets a result for a waiter that is being cancelled.
    """
    in_attempt = threading.Event()
    go = threading.Event()

    def attempt() -> str:
        in_attempt.set()
        go.wait(10)
        return "unit"

    task = asyncio.ensure_future(
        wait_for(attempt, queue=("test", target.id), describe="t", undo=undo, try_first=False)
    )
    return task, in_attempt, go


async def cancel_during_the_attempt(
    task: asyncio.Task[str], in_attempt: threading.Event, go: threading.Event
) -> None:
    while not in_attempt.is_set():
        await asyncio.sleep(0.001)
    task.cancel()
    go.set()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_undo_hook_gets_a_result_obtained_after_cancellation(objects: SysVCleanup) -> None:
    """Force the race: the attempt succeeds while the waiter is being cancelled.

    The cancelled waiter gives the result back itself, in the loop thread, before its
    cancellation reaches the caller: nothing is left for a thread to do later.
    """
    target = raw_semaphore(objects)
    given_back: list[tuple[str, int]] = []
    task, in_attempt, go = start_a_waiter_that_gets_a_unit_while_cancelled(
        target, lambda result: given_back.append((result, threading.get_ident()))
    )
    await cancel_during_the_attempt(task, in_attempt, go)
    assert given_back == [("unit", threading.get_ident())]
    assert pending_give_backs() == 0


class NoRoomYet:
    """An undo hook that says "would block" until ``room`` is set; records its threads."""

    def __init__(self) -> None:
        self.room = threading.Event()
        self.tries: list[str] = []
        self.given_back: list[str] = []

    def __call__(self, result: str) -> None:
        self.tries.append(threading.current_thread().name)
        if not self.room.is_set():
            raise sysv_ipc.BusyError("no room yet")
        self.given_back.append(result)


@pytest.fixture
def no_room_yet() -> Iterator[NoRoomYet]:
    hook = NoRoomYet()
    yield hook
    hook.room.set()  # whatever the test did, its give-back can be made and leaves


async def test_a_give_back_that_must_wait_is_retried_by_the_first_poller(
    objects: SysVCleanup, no_room_yet: NoRoomYet
) -> None:
    hook = no_room_yet
    target = raw_semaphore(objects)
    task, in_attempt, go = start_a_waiter_that_gets_a_unit_while_cancelled(target, hook)
    await cancel_during_the_attempt(task, in_attempt, go)
    assert hook.tries[0] == threading.current_thread().name  # at once, in the loop thread
    assert hook.given_back == []
    assert pending_give_backs() == 1
    while len(hook.tries) < 4:
        await asyncio.sleep(0)
    assert set(hook.tries[1:]) == {"aioipc-sysv-poller-0"}  # then by the first poller
    hook.room.set()
    await asyncio.wait_for(give_backs_done(), 10)
    assert hook.given_back == ["unit"]
    assert pending_give_backs() == 0


async def test_finish_give_backs_waits_until_a_pending_give_back_is_done(
    objects: SysVCleanup, no_room_yet: NoRoomYet
) -> None:
    """What the atexit handler does: block until every deferred give-back is made."""
    hook = no_room_yet
    target = raw_semaphore(objects)
    task, in_attempt, go = start_a_waiter_that_gets_a_unit_while_cancelled(target, hook)
    await cancel_during_the_attempt(task, in_attempt, go)
    assert pending_give_backs() == 1
    finisher = threading.Thread(target=finish_give_backs, name="finisher")
    finisher.start()
    try:
        while "finisher" not in hook.tries:  # it has tried, and found no room
            await asyncio.sleep(0)
        assert finisher.is_alive()  # no room: it cannot have finished
        assert hook.given_back == []
    finally:
        hook.room.set()
        await asyncio.to_thread(finisher.join, 30)
    assert not finisher.is_alive()
    assert hook.given_back == ["unit"]
    assert pending_give_backs() == 0


async def test_a_failing_give_back_is_logged_and_dropped(
    objects: SysVCleanup, caplog: pytest.LogCaptureFixture
) -> None:
    target = raw_semaphore(objects)

    def undo(result: str) -> None:
        raise LookupError("cannot give it back")

    task, in_attempt, go = start_a_waiter_that_gets_a_unit_while_cancelled(target, undo)
    with caplog.at_level(logging.ERROR, logger="aioipc.sysv"):
        await cancel_during_the_attempt(task, in_attempt, go)
    assert "could not give back" in caplog.text
    assert "cannot give it back" in caplog.text
    assert pending_give_backs() == 0
    # The poller threads still serve waiters.
    target.release()
    waiter = asyncio.ensure_future(
        wait_for(
            target.acquire, queue=("test", target.id), describe="t", undo=None, try_first=False
        )
    )
    assert await asyncio.wait_for(waiter, 10) is None
    assert target.value == 0


async def test_errors_from_an_attempt_reach_the_waiter(objects: SysVCleanup) -> None:
    target = raw_semaphore(objects)

    def attempt() -> None:
        raise LookupError("from the attempt")

    with pytest.raises(LookupError, match="from the attempt"):
        await wait_for(
            attempt, queue=("test", target.id), describe="t", undo=None, try_first=False
        )


def test_several_loops_in_threads_share_the_pollers(objects: SysVCleanup) -> None:
    sem = sysv.Semaphore(undo=False)
    objects.track("sem", sem.id)
    results: list[str] = []

    def run_one(loop: str) -> None:
        async def main() -> None:
            await asyncio.wait_for(sem.acquire(), 30)

        aioipc.run(main(), loop=loop)
        results.append(loop)

    threads = [
        threading.Thread(target=run_one, args=(name,)) for name in ("asyncio", "uvloop") * 2
    ]
    for thread in threads:
        thread.start()
    sem.release(4)
    for thread in threads:
        thread.join(60)
    assert sorted(results) == ["asyncio", "asyncio", "uvloop", "uvloop"]
    assert sem.value == 0


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
async def test_asyncio_run_returns_with_waiters_pending(objects: SysVCleanup, loop: str) -> None:
    """A program whose main returns while waiters wait exits: nothing holds it."""
    sem = sysv.Semaphore(objects.key(), undo=False)
    program = HERE / "sysv_poller_exit_program.py"
    result = await aioipc.run_process(
        [sys.executable, str(program), str(sem.key), loop], timeout=30
    )
    assert result.stdout.strip() == b"RETURNED"
    sem.release()
    assert sem.value == 1  # none of the dead program's waiters took it


async def test_poller_threads_end_when_idle_and_start_again(
    objects: SysVCleanup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sysv_poller, "IDLE_EXIT", 0.05)
    sem = sysv.Semaphore(undo=False)
    objects.track("sem", sem.id)
    waiter = asyncio.ensure_future(sem.acquire())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()
    assert poller_threads() >= 1
    threads = [t for t in threading.enumerate() if t.name.startswith("aioipc-sysv-poller-")]
    assert threads
    sem.release()
    await asyncio.wait_for(waiter, 10)
    # Nothing to poll: each thread ends by itself (joined, not polled for).
    for thread in threads:
        await asyncio.to_thread(thread.join, 30)
        assert not thread.is_alive()
    assert poller_threads() == 0
    # The next waiter starts a thread again and is served.
    waiter = asyncio.ensure_future(sem.acquire())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()
    assert poller_threads() >= 1
    sem.release()
    await asyncio.wait_for(waiter, 10)
    assert sem.value == 0
