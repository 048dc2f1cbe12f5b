"""aioipc.sysv.Semaphore: real kernel semaphores, real second processes and Perl, both loops."""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sysv_data_helpers import SysVCleanup

import aioipc
from aioipc import sysv
from aioipc._sysv_poller import pending_give_backs

HERE = Path(__file__).resolve().parent
PROGRAM = str(HERE / "sysv_semaphore_program.py")
EXIT_PROGRAM = str(HERE / "sysv_exit_semaphore.py")
PERL_DIR = HERE / "interop" / "perl"


@pytest.fixture
def objects() -> Iterator[SysVCleanup]:
    cleanup = SysVCleanup()
    yield cleanup
    cleanup.finish()


def semaphore(objects: SysVCleanup, *args: object, **kwargs: object) -> sysv.Semaphore:
    """A Semaphore the fixture removes even if the test fails."""
    sem = sysv.Semaphore(*args, **kwargs)  # type: ignore[arg-type]
    objects.track("sem", sem.id)
    return sem


def loop_name() -> str:
    return "uvloop" if "uvloop" in type(asyncio.get_running_loop()).__module__ else "asyncio"


async def still_waiting(task: asyncio.Future[object]) -> None:
    """Let the loop run a few rounds and check that ``task`` has not finished.

    Used only where nothing can let it finish (no unit exists and no other process
    holds the key), so this is not a race.
    """
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()


# basics


async def test_acquire_release_value_and_async_with(objects: SysVCleanup) -> None:
    sem = semaphore(objects, initial=2)
    assert sem.created
    assert sem.undo
    assert sem.key == sysv.IPC_PRIVATE
    assert sem.value == 2
    await sem.acquire()
    await sem.acquire()
    assert sem.value == 0
    sem.release(2)
    assert sem.value == 2
    async with sem as entered:
        assert entered is sem
        assert sem.value == 1
    assert sem.value == 2
    assert f"id {sem.id}" in repr(sem)


async def test_a_waiter_gets_a_unit_released_later(objects: SysVCleanup) -> None:
    sem = semaphore(objects)
    task = asyncio.ensure_future(sem.acquire())
    await still_waiting(task)
    sem.release()
    await asyncio.wait_for(task, 10)
    assert sem.value == 0


async def test_waiters_are_served_in_order(objects: SysVCleanup) -> None:
    sem = semaphore(objects, undo=False)
    order: list[int] = []

    async def waiter(n: int) -> None:
        await sem.acquire()
        order.append(n)

    tasks = [asyncio.ensure_future(waiter(n)) for n in range(20)]
    await still_waiting(tasks[0])
    for _ in range(20):
        sem.release()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert order == list(range(20))


async def test_timeout_raises_and_takes_nothing(objects: SysVCleanup) -> None:
    sem = semaphore(objects)
    with pytest.raises(aioipc.IPCTimeoutError, match=r"timed out after 0.05 s .*semaphore"):
        await sem.acquire(timeout=0.05)
    with pytest.raises(TimeoutError, match="would have to wait"):
        await sem.acquire(timeout=0)
    sem.release()
    await sem.acquire(timeout=0)
    assert sem.value == 0


async def test_cancelled_waiter_takes_no_unit(objects: SysVCleanup) -> None:
    sem = semaphore(objects)
    task = asyncio.ensure_future(sem.acquire())
    await still_waiting(task)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    sem.release()
    assert sem.value == 1
    await sem.acquire(timeout=0)


async def test_wait_zero(objects: SysVCleanup) -> None:
    sem = semaphore(objects, initial=1)
    task = asyncio.ensure_future(sem.wait_zero())
    await still_waiting(task)
    await sem.acquire()
    await asyncio.wait_for(task, 10)
    await sem.wait_zero(timeout=0)
    sem.release()
    with pytest.raises(TimeoutError):
        await sem.wait_zero(timeout=0.02)


# keys, creation and opening


async def test_key_from_path_rendezvous(objects: SysVCleanup, tmp_path: Path) -> None:
    path = tmp_path / "rendezvous"
    path.write_text("")
    key = sysv.key_from_path(path, 7)
    assert key == sysv.key_from_path(str(path), 7) != sysv.key_from_path(path, 8)
    objects.keys.append(key)
    first = semaphore(objects, key, initial=3, exclusive=True)
    second = sysv.Semaphore(key, create=False, initial=99)
    assert first.created
    assert not second.created
    assert second.id == first.id
    assert second.key == key
    assert second.value == 3
    await second.acquire()
    assert first.value == 2


def test_key_from_path_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sysv.key_from_path(tmp_path / "missing", 1)
    for bad in (0, 256, -1):
        with pytest.raises(ValueError, match="project_id must be from 1 to 255"):
            sysv.key_from_path(tmp_path, bad)
    with pytest.raises(TypeError, match="project_id"):
        sysv.key_from_path(tmp_path, "1")  # type: ignore[arg-type]


def test_unsigned_and_signed_spellings_of_a_key_are_one_key(objects: SysVCleanup) -> None:
    key = objects.key()
    sem = semaphore(objects, key)
    unsigned = key if key >= 0 else key + 2**32
    assert sysv.Semaphore(unsigned, create=False).id == sem.id


def test_opening_and_creating_errors(objects: SysVCleanup) -> None:
    key = objects.key()
    with pytest.raises(FileNotFoundError, match=rf"no semaphore key {key:#010x} exists"):
        sysv.Semaphore(key, create=False)
    semaphore(objects, key)
    with pytest.raises(FileExistsError, match="already exists"):
        sysv.Semaphore(key, exclusive=True)
    with pytest.raises(ValueError, match="private semaphore"):
        sysv.Semaphore(None, create=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"key": "1"}, TypeError, "key must be an int"),
        ({"key": 2**32}, ValueError, "does not fit"),
        ({"initial": -1}, ValueError, "initial must be from 0 to 32767"),
        ({"initial": 40000}, ValueError, "initial must be from 0 to 32767"),
        ({"initial": 1.0}, TypeError, "initial must be an int"),
        ({"mode": 0o1777}, ValueError, "mode must be from 0 to 511"),
        ({"undo": 1}, TypeError, "undo must be True or False"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        sysv.Semaphore(**kwargs)  # type: ignore[arg-type]


async def test_bad_release_and_timeout_arguments(objects: SysVCleanup) -> None:
    sem = semaphore(objects, initial=1)
    for bad in (0, -1, 40000):
        with pytest.raises(ValueError, match="n must be from 1 to 32767"):
            sem.release(bad)
    with pytest.raises(TypeError, match="n must be an int"):
        sem.release(1.5)  # type: ignore[arg-type]
    sem.release(32766)
    with pytest.raises(ValueError, match="above the kernel's maximum value 32767"):
        sem.release()
    for bad_timeout in (-1, float("nan")):
        with pytest.raises(ValueError, match="timeout must be a non-negative"):
            await sem.acquire(timeout=bad_timeout)
    with pytest.raises(TypeError, match="timeout must be a number"):
        await sem.acquire(timeout="1")  # type: ignore[arg-type]
    assert sem.value == 32767


async def test_permission_denied_as_another_user(objects: SysVCleanup) -> None:
    key = objects.key()
    semaphore(objects, key, mode=0o600)

    def try_open() -> None:
        try:
            sysv.Semaphore(key, create=False)
        except PermissionError as exc:
            print(f"PermissionError: {exc}", flush=True)
        else:
            print("opened", flush=True)

    async with aioipc.open_fork(try_open, stdout=aioipc.PIPE, user="nobody") as child:
        assert child.stdout is not None
        line = await child.stdout.readline()
        await child.wait()
    assert line.startswith(b"PermissionError: cannot open semaphore key"), line


# removal


async def test_removal_while_waiting_raises_sysv_removed(objects: SysVCleanup) -> None:
    sem = semaphore(objects)
    acquirer = asyncio.ensure_future(sem.acquire())
    await still_waiting(acquirer)
    sem.remove()
    with pytest.raises(sysv.SysVRemoved, match=rf"semaphore \(id {sem.id}\) was removed while"):
        await asyncio.wait_for(acquirer, 10)
    with pytest.raises(sysv.SysVRemoved, match="no longer exists"):
        await sem.acquire()
    with pytest.raises(sysv.SysVRemoved):
        sem.release()
    with pytest.raises(sysv.SysVRemoved):
        _ = sem.value
    with pytest.raises(sysv.SysVRemoved):
        sem.remove()
    assert issubclass(sysv.SysVRemoved, aioipc.IPCError)


# other processes


async def test_two_process_ping_pong(objects: SysVCleanup) -> None:
    ping = semaphore(objects, objects.key(), undo=False)
    pong = semaphore(objects, objects.key(), undo=False)
    rounds = 200
    argv = [sys.executable, PROGRAM, "pong", str(ping.key), str(pong.key), str(rounds)]
    async with aioipc.open_process([*argv, loop_name()], stdout=aioipc.PIPE) as child:
        assert child.stdout is not None
        assert await child.stdout.readline() == b"READY"
        for _ in range(rounds):
            ping.release()
            await pong.acquire(timeout=30)
        assert await child.stdout.readline() == b"DONE"
        assert (await child.wait()).code == 0
    assert ping.value == pong.value == 0


@pytest.mark.parametrize("undo", [True, False])
async def test_a_killed_holder_gives_its_unit_back_only_with_undo(
    objects: SysVCleanup, undo: bool
) -> None:
    mutex = semaphore(objects, objects.key(), initial=1)
    argv = [sys.executable, PROGRAM, "hold", str(mutex.key), "1" if undo else "0", loop_name()]
    async with aioipc.open_process(argv, stdout=aioipc.PIPE) as holder:
        assert holder.stdout is not None
        assert await holder.stdout.readline() == b"HELD"
        assert mutex.value == 0
        waiter = asyncio.ensure_future(mutex.acquire())
        await still_waiting(waiter)
        holder.kill()
        status = await holder.wait()
    assert status.signal == signal.SIGKILL
    if undo:
        await asyncio.wait_for(waiter, 10)  # the kernel gave the dead holder's unit back
        assert mutex.value == 0
    else:
        assert mutex.value == 0  # without SEM_UNDO the unit died with its holder
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter


async def test_perl_gives_a_unit_an_aioipc_waiter_takes(objects: SysVCleanup) -> None:
    sem = semaphore(objects, objects.key(), undo=False)
    waiter = asyncio.ensure_future(sem.acquire())
    await still_waiting(waiter)
    result = await aioipc.run_process(["perl", str(PERL_DIR / "sysv_sem_give.pl"), str(sem.key)])
    assert result.stdout.strip() == b"GAVE"
    await asyncio.wait_for(waiter, 10)
    assert sem.value == 0


async def test_an_aioipc_release_wakes_perl_blocked_in_the_kernel(objects: SysVCleanup) -> None:
    sem = semaphore(objects, objects.key(), undo=False)
    argv = ["perl", str(PERL_DIR / "sysv_sem_take.pl"), str(sem.key)]
    async with aioipc.open_process(argv, stdout=aioipc.PIPE) as perl:
        assert perl.stdout is not None
        assert await perl.stdout.readline() == b"READY"
        sem.release()
        assert await perl.stdout.readline() == b"TOOK"
        assert (await perl.wait()).code == 0
    assert sem.value == 0


# the property: whatever is cancelled when, no unit appears or vanishes


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    cancel_after=st.lists(st.floats(0, 0.003), min_size=1, max_size=30),
    releases=st.lists(st.tuples(st.integers(1, 3), st.floats(0, 0.002)), max_size=20),
    seed=st.integers(0, 2**16),
)
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_cancelled_waiters_conserve_units(
    objects: SysVCleanup,
    loop: str,
    cancel_after: list[float],
    releases: list[tuple[int, float]],
    seed: int,
) -> None:
    rng = random.Random(seed)

    async def scenario() -> None:
        sem = semaphore(objects, undo=rng.random() < 0.5)
        try:
            tasks = [asyncio.ensure_future(sem.acquire()) for _ in cancel_after]

            async def cancel_later(task: asyncio.Future[None], after: float) -> None:
                await asyncio.sleep(after)
                task.cancel()

            async def release_all() -> None:
                for n, pause in releases:
                    sem.release(n)
                    await asyncio.sleep(pause)

            cancellers = [
                cancel_later(t, after) for t, after in zip(tasks, cancel_after, strict=True)
            ]
            await asyncio.gather(release_all(), *cancellers)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            acquired = sum(1 for r in results if r is None)
            released = sum(n for n, _ in releases)
            # A unit a cancelled waiter's poll took was released again by the waiter
            # itself, before its cancellation ended: nothing is left pending.
            assert pending_give_backs() == 0
            assert sem.value + acquired == released
        finally:
            sem.remove()

    aioipc.run(scenario(), loop=loop)


# at exit: a unit a poller took for a waiter that never saw it is not lost


@pytest.mark.parametrize("undo", [False, True])
@pytest.mark.parametrize("how", ["aioipc.run", "asyncio.run", "cancel", "closed"])
async def test_a_unit_taken_for_a_waiter_is_not_lost_when_the_program_ends(
    objects: SysVCleanup, how: str, undo: bool
) -> None:
    """tests/sysv_exit_semaphore.py, in a real process; the kernel's value checked after.

    The program ends while a poller thread holds a unit for a waiter that was never
    told: the run cancels the waiter (``aioipc.run``, ``asyncio.run``), main cancels it
    (``cancel``), or its loop is closed under it (``closed``, left to interpreter exit).
    A waiter the loop resumed before the run ended has acquired the unit instead.
    Without SEM_UNDO only a give-back can restore the unit; with it, a give-back made
    without SEM_UNDO would count it twice.
    """
    sem = semaphore(objects, objects.key(), undo=False)
    argv = [sys.executable, EXIT_PROGRAM, str(sem.key), loop_name(), how, "1" if undo else "0"]
    result = await aioipc.run_process(argv, timeout=60)
    word, outcome = result.stdout.decode().split()
    assert word == "WAITER"
    if how == "cancel":
        assert outcome == "cancelled"
    elif how == "closed":
        assert outcome == "pending"
    else:
        assert outcome in ("cancelled", "acquired")
    kept = outcome == "acquired" and not undo
    assert sem.value == (0 if kept else 1)
    assert b"could not give back" not in result.stderr
