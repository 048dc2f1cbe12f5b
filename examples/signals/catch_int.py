"""Trapping SIGINT: perlipc's ``catch_zap``, the aioipc way.

perlipc (section "Signals")::

    sub catch_zap {
        my $signame = shift;
        $shucks++;
        die "Somebody sent me a SIG$signame";
    }
    $SIG{INT} = \\&catch_zap;

Perl's handler runs "deferred", at a safe point between opcodes.  aioipc defers it to the
event loop, so the callback may do anything (print, touch shared state, start tasks).
This program counts Ctrl-C presses (SIGINTs) and leaves after ``--times`` of them::

    python examples/signals/catch_int.py [--loop asyncio|uvloop] [--times 3]

It prints ``READY`` once the handler is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal

import aioipc


async def main(times: int) -> int:
    shucks = 0
    enough = asyncio.Event()

    def catch_zap(signum: int) -> None:
        nonlocal shucks
        shucks += 1
        print(f"Somebody sent me a {aioipc.signal_name(signum)} ({shucks} of {times})", flush=True)
        if shucks >= times:
            enough.set()

    with aioipc.on_signal(signal.SIGINT, catch_zap):
        print(f"READY: pid {os.getpid()}, press Ctrl-C {times} times", flush=True)
        await enough.wait()
    # Leaving the block restored the SIGINT handler that was there before.
    print("Outta here!", flush=True)
    return shucks


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--times", type=int, default=3)
    args = parser.parse_args()
    aioipc.run(main(args.times), loop=args.loop)
