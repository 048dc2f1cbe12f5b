"""``python sysv_poller_exit_program.py KEY LOOP``: return from main with waiters pending.

Ten tasks wait on the semaphore with KEY when main returns; ``aioipc.run`` cancels them
and must return (no thread or callback keeps the loop or the process alive).  Prints
``RETURNED`` after the run.
"""

from __future__ import annotations

import asyncio
import sys

import aioipc
from aioipc import sysv


async def main(key: int) -> None:
    sem = sysv.Semaphore(key, create=False, undo=False)
    tasks = [asyncio.ensure_future(sem.acquire()) for _ in range(10)]
    for _ in range(10):
        await asyncio.sleep(0)
    assert not any(task.done() for task in tasks)


if __name__ == "__main__":
    aioipc.run(main(int(sys.argv[1])), loop=sys.argv[2])
    print("RETURNED", flush=True)
