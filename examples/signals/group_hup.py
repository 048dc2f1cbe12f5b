"""Signal your whole process group, ignoring the signal yourself.

perlipc ("Signals")::

    {
        local $SIG{HUP} = 'IGNORE';
        kill HUP => -$$;
        # snazzy writing of: kill('HUP', -$$)
    }

This program starts ``--children`` copies of itself in its own process group, each
waiting for SIGHUP on an :func:`aioipc.open_signal_stream`, then sends SIGHUP to the
whole group with SIGHUP ignored locally, so only the children get it.

``kill HUP => -$$`` assumes the program leads its process group.  Started by a shell
without job control (``make``, ``sh -c``) it may share its group with its parent, which
would get the SIGHUP too; so it first moves itself into a group of its own::

    python examples/signals/group_hup.py [--loop asyncio|uvloop] [--children 2]

It prints ``READY`` once every child is waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

import aioipc


async def child(number: int) -> None:
    async with aioipc.open_signal_stream(signal.SIGHUP) as signals:
        print(f"child {number} (pid {os.getpid()}) waiting", flush=True)
        signum = await signals.receive()
    print(f"child {number} got {aioipc.signal_name(signum)}", flush=True)


async def parent(children: int, loop_name: str) -> None:
    if os.getpgrp() != os.getpid():
        os.setpgid(0, 0)  # lead a group of our own: -$$ is then exactly us and our children
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            os.path.abspath(__file__),
            "--loop",
            loop_name,
            "--child",
            str(number),
            stdout=asyncio.subprocess.PIPE,
        )
        for number in range(1, children + 1)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            print((await proc.stdout.readline()).decode().rstrip(), flush=True)
        print(f"READY: group {os.getpgrp()} has {children} children waiting", flush=True)
        with aioipc.ignore_signals(signal.SIGHUP):
            aioipc.kill_group(0, signal.SIGHUP)  # 0: our own process group, as -$$
        print("parent: sent SIGHUP to the group and ignored it", flush=True)
        for proc in procs:
            assert proc.stdout is not None
            out = await proc.stdout.read()
            print(out.decode().rstrip(), flush=True)
            await proc.wait()
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    codes = [proc.returncode for proc in procs]
    print(f"parent: children exited with {codes}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        aioipc.run(child(args.child), loop=args.loop)
    else:
        aioipc.run(parent(args.children, args.loop), loop=args.loop)
