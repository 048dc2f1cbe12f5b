"""SysV semaphore waits: wake-up latency across processes and idle CPU of many waiters.

``python -m benchmarks.sysv_wakeup [--rounds N] [--waiters W] [--idle SECONDS]``

* **Wake-up latency.**  A child process (plain ``sysv_ipc``, no aioipc) releases a
  semaphore ``--rounds`` times at random 1-20 ms intervals -- so the waiter's poller has
  backed off, the usual case -- and writes the ``CLOCK_MONOTONIC`` time taken just
  before each release to a pipe.  The parent waits with ``await sem.acquire()`` and
  takes the time as soon as it resumes.  The clock is system-wide, so the difference
  is the latency from the release in one process to the waiter running in the other.
* **Idle CPU.**  ``--waiters`` tasks wait on one semaphore that nobody releases, for
  ``--idle`` seconds; the process's user+system CPU time over that wall time
  (``getrusage``) is the cost of waiting.  Then the same with each waiter on its own
  semaphore (the worst case: one queue per waiter).

Both loops; prints median and p99 latency and the idle CPU percentages, and with
``--json PATH`` saves them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aioipc
from aioipc import sysv

RELEASER = """
import random, sys, time, sysv_ipc
sem = sysv_ipc.Semaphore(int(sys.argv[1]))
rng = random.Random(1)
for _ in range(int(sys.argv[2])):
    time.sleep(rng.uniform(0.001, 0.02))
    stamp = time.monotonic_ns()
    sem.release()
    sys.stdout.write(f"{stamp}\\n")
    sys.stdout.flush()
"""


async def latency(rounds: int) -> dict[str, float]:
    key = random.randint(0x10000, 2**31 - 1)  # exclusive: fails rather than share
    sem = sysv.Semaphore(key, undo=False, exclusive=True)
    samples = []
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", RELEASER, str(sem.key), str(rounds)],
            stdout=subprocess.PIPE,
        )
        assert child.stdout is not None
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), child.stdout)
        for _ in range(rounds):
            await sem.acquire()
            resumed = time.monotonic_ns()
            released = int(await reader.readline())
            samples.append((resumed - released) / 1e6)
        child.wait()
    finally:
        sem.remove()
    samples.sort()
    return {
        "median_ms": statistics.median(samples),
        "p99_ms": samples[int(len(samples) * 0.99) - 1],
        "max_ms": samples[-1],
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def idle_cpu(waiters: int, seconds: float, separate: bool) -> float:
    sems = [sysv.Semaphore(undo=False) for _ in range(waiters if separate else 1)]
    try:
        tasks = [asyncio.ensure_future(sems[i % len(sems)].acquire()) for i in range(waiters)]
        await asyncio.sleep(0.5)  # let the back-off reach its cap before measuring
        cpu, wall = _cpu(), time.monotonic()
        await asyncio.sleep(seconds)
        share = (_cpu() - cpu) / (time.monotonic() - wall)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for sem in sems:
            sem.remove()
    return share * 100


async def main_for(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "latency": await latency(args.rounds),
        "idle_cpu_percent_one_semaphore": await idle_cpu(args.waiters, args.idle, False),
        "idle_cpu_percent_one_semaphore_each": await idle_cpu(args.waiters, args.idle, True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--waiters", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    for loop in ("asyncio", "uvloop"):
        results[loop] = aioipc.run(main_for(args), loop=loop)
        lat = results[loop]["latency"]
        print(
            f"{loop:8} wake-up median {lat['median_ms']:.3f} ms, p99 {lat['p99_ms']:.3f} ms, "
            f"max {lat['max_ms']:.3f} ms; idle CPU of {args.waiters} waiters: "
            f"{results[loop]['idle_cpu_percent_one_semaphore']:.1f}% (one semaphore), "
            f"{results[loop]['idle_cpu_percent_one_semaphore_each']:.1f}% (one each)"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
