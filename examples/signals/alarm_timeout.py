"""Time out a blocking operation: perlipc's ``alarm`` pattern.

perlipc ("Signals")::

    eval {
        local $SIG{ALRM} = sub { die "alarm clock restart" };
        alarm 10;
        flock(FH, 2);   # blocking write lock
        alarm 0;
    };
    if ($@ and $@ !~ /alarm clock restart/) { die }

In asyncio nothing blocks, so no signal is needed: ``asyncio.timeout()`` cancels the
await when time runs out and raises ``TimeoutError``, and there is no ``alarm 0`` to
forget.  That is the default here.  ``--alarm`` is the literal port, for comparison:
SIGALRM from ``setitimer`` reaches an :func:`aioipc.on_signal` callback that cancels the
waiting task, turned into ``TimeoutError`` the way the Perl code checks ``$@``.

The slow operation is a read from a pipe nobody writes to::

    python examples/signals/alarm_timeout.py [--loop asyncio|uvloop] [--seconds 0.2] [--alarm]

It prints ``READY`` before it starts waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Awaitable
from typing import TypeVar

import aioipc

T = TypeVar("T")


async def with_alarm(seconds: float, operation: Awaitable[T]) -> T:
    """The literal port: SIGALRM after ``seconds`` interrupts ``operation``."""
    task = asyncio.current_task()
    assert task is not None
    rang = False

    def alarm_clock(signum: int) -> None:  # local $SIG{ALRM} = sub { die ... }
        nonlocal rang
        rang = True
        task.cancel("alarm clock restart")

    with aioipc.on_signal(signal.SIGALRM, alarm_clock):
        signal.setitimer(signal.ITIMER_REAL, seconds)  # alarm 10
        try:
            return await operation
        except asyncio.CancelledError:
            if rang and task.uncancel() == 0:
                raise TimeoutError("alarm clock restart") from None
            raise
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)  # alarm 0, before leaving the block


async def main(seconds: float, use_alarm: bool) -> None:
    loop = asyncio.get_running_loop()
    read_fd, write_fd = os.pipe()  # we hold the write end and never write: no EOF either
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", 0)
    )
    how = "SIGALRM" if use_alarm else "asyncio.timeout()"
    try:
        print(f"READY: reading from a silent pipe, giving up after {seconds}s ({how})", flush=True)
        try:
            if use_alarm:
                data = await with_alarm(seconds, reader.read(1))
            else:
                async with asyncio.timeout(seconds):
                    data = await reader.read(1)
        except TimeoutError as exc:
            print(f"timed out: {str(exc) or 'asyncio.timeout() expired'}", flush=True)
        else:
            print(f"read {data!r}", flush=True)
    finally:
        transport.close()
        os.close(write_fd)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--seconds", type=float, default=0.2)
    parser.add_argument("--alarm", action="store_true", help="use SIGALRM, as perlipc does")
    args = parser.parse_args()
    aioipc.run(main(args.seconds, args.alarm), loop=args.loop)
