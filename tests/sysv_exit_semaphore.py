"""``python sysv_exit_semaphore.py KEY LOOP HOW UNDO``: end while a poller holds a unit.

One task waits on the semaphore with KEY.  The program releases a unit itself and then
holds its loop thread until a poller thread has taken that unit for the waiter (the
kernel shows the value back at 0), so the waiter cannot have been told yet.  Then:

* ``HOW=aioipc.run``: main returns through ``aioipc.run``, the waiter still pending;
* ``HOW=asyncio.run``: the same through plain ``asyncio.run`` (uvloop's policy for
  LOOP=uvloop);
* ``HOW=cancel``: main cancels the waiter (without awaiting it) and returns, through
  ``aioipc.run``;
* ``HOW=closed``: the unit is released and taken while the loop is not running at all,
  and the loop is closed without running again: the waiter is never cancelled, and
  the give-back is left to interpreter exit.

A waiter that the loop resumes before the run ends has acquired the unit (uvloop runs
the poller's hand-over before it stops; asyncio cancels the waiter first); otherwise
the unit must go back before the process ends.  Prints ``WAITER acquired``,
``WAITER cancelled`` or ``WAITER pending`` after the run.  ``UNDO`` (1 or 0) is the
semaphore's ``undo``.  The parent checks the semaphore's value in the kernel.
"""

from __future__ import annotations

import asyncio
import sys
import time

import sysv_ipc

import aioipc
from aioipc import sysv

waiters: list[asyncio.Future[None]] = []


async def start(key: int, undo: bool) -> None:
    sem = sysv.Semaphore(key, create=False, undo=undo)
    waiters.append(asyncio.ensure_future(sem.acquire()))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiters[0].done()


def release_and_hold(key: int) -> None:
    raw = sysv_ipc.Semaphore(key)
    raw.release()
    deadline = time.monotonic() + 20
    while raw.value:  # the poller took it; this thread (the loop's) was not told
        assert time.monotonic() < deadline, "no poller took the unit"
        time.sleep(0.0005)


async def main(key: int, undo: bool, cancel: bool) -> None:
    await start(key, undo)
    release_and_hold(key)
    if cancel:
        waiters[0].cancel()


def outcome() -> str:
    waiter = waiters[0]
    if not waiter.done():
        return "pending"
    return "cancelled" if waiter.cancelled() else "acquired"


if __name__ == "__main__":
    key, loop, how, undo = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "1"
    if how in ("aioipc.run", "cancel"):
        aioipc.run(main(key, undo, how == "cancel"), loop=loop)  # type: ignore[arg-type]
    elif how == "asyncio.run":
        if loop == "uvloop":
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        asyncio.run(main(key, undo, False))
    elif how == "closed":
        event_loop = aioipc.new_event_loop(loop)  # type: ignore[arg-type]
        event_loop.run_until_complete(start(key, undo))
        release_and_hold(key)
        event_loop.close()
    else:
        raise SystemExit(f"unknown HOW {how!r}")
    print("WAITER", outcome(), flush=True)
