"""A second process for the semaphore tests: ``python sysv_semaphore_program.py MODE ...``.

Modes:

* ``pong KEY_PING KEY_PONG ROUNDS LOOP``: open both semaphores (undo=False) and, ROUNDS
  times, acquire a unit of PING and release one of PONG; prints ``READY`` first and
  ``DONE`` last.  LOOP is ``asyncio`` or ``uvloop``.
* ``hold KEY UNDO LOOP``: acquire one unit (with SEM_UNDO if UNDO is ``1``), print
  ``HELD`` and wait to be killed.
"""

from __future__ import annotations

import asyncio
import sys

import aioipc
from aioipc import sysv


async def pong(ping_key: int, pong_key: int, rounds: int) -> None:
    ping = sysv.Semaphore(ping_key, create=False, undo=False)
    pong = sysv.Semaphore(pong_key, create=False, undo=False)
    print("READY", flush=True)
    for _ in range(rounds):
        await ping.acquire()
        pong.release()
    print("DONE", flush=True)


async def hold(key: int, undo: bool) -> None:
    sem = sysv.Semaphore(key, create=False, undo=undo)
    await sem.acquire()
    print("HELD", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    mode, *args = sys.argv[1:]
    loop = args.pop()
    if mode == "pong":
        aioipc.run(pong(int(args[0]), int(args[1]), int(args[2])), loop=loop)
    elif mode == "hold":
        aioipc.run(hold(int(args[0]), args[1] == "1"), loop=loop)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
