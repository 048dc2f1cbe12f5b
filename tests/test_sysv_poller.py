"""The SysV waiting machinery (aioipc._sysv_poller) with real kernel semaphores."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sysv_ipc
from sysv_data_helpers import SysVCleanup

import aioipc
from aioipc import sysv
from aioipc._sysv_poller import POLLER_THREADS, give_backs_done, poller_threads, wait_for

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


async def test_undo_hook_gets_a_result_obtained_after_cancellation(objects: SysVCleanup) -> None:
    """Force the race: the attempt succeeds while the waiter is being cancelled."""
    target = raw_semaphore(objects)
    in_attempt = threading.Event()
    cancelled = threading.Event()
    given_back: list[str] = []

    def attempt() -> str:
        in_attempt.set()
        # Hold the attempt until the loop has started cancelling this waiter (the
        # cancelling side blocks on the waiter's lock, so wait for the task to be
        # marked cancelled instead).
        cancelled.wait(10)
        return "unit"

    task = asyncio.ensure_future(
        wait_for(
            attempt,
            queue=("test", target.id),
            describe="t",
            undo=given_back.append,
            try_first=False,
        )
    )
    while not in_attempt.is_set():
        await asyncio.sleep(0.001)
    task.cancel()
    cancelled.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    await give_backs_done()
    assert given_back == ["unit"]


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


def test_poller_threads_end_when_idle() -> None:
    # Every earlier waiter is done; the threads leave after IDLE_EXIT seconds.
    for _ in range(400):
        if poller_threads() == 0:
            break
        threading.Event().wait(0.01)
    assert poller_threads() == 0
