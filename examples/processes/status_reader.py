"""Reading a command's output line by line: perlipc's ``netstat -an 2>&1 |`` reader.

perlipc ("Using open() for IPC")::

    open(STATUS, "netstat -an 2>&1 |")
                    || die "can't fork: $!";
    while (<STATUS>) {
        next if /^(tcp|udp)/;
        print;
    }
    close STATUS || die "bad netstat: $! $?";

``ps -e`` stands in for netstat (which may not be installed), and the filter skips
the ``ps`` process itself, as perlipc's skips the tcp and udp lines.  ``pipe_from``
takes the command as a list (no shell), ``stderr=STDOUT`` is the ``2>&1``, and leaving
the block is the ``close``: it waits for ``ps`` and raises ``aioipc.ProcessError`` --
argv, pid, status -- if it failed.  ``--bad`` passes ``ps`` an option it does not know::

    python examples/processes/status_reader.py [--loop asyncio|uvloop] [--bad]
"""

from __future__ import annotations

import argparse
import os
import re

import aioipc
from aioipc import STDOUT

SKIP = re.compile(rb"\sps$")  # next if /^(tcp|udp)/, for ps: skip ps itself


async def main(bad: bool) -> int:
    command = ["ps", "-e"] if not bad else ["ps", "--no-such-option"]
    print(f"this is pid {os.getpid()}", flush=True)
    try:
        async with aioipc.pipe_from(command, stderr=STDOUT) as status:
            async for line in status.lines():
                if SKIP.search(line):
                    continue
                print(line.decode(errors="replace"), flush=True)
    except aioipc.ProcessError as error:
        print(f"bad ps: {error}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--bad", action="store_true", help="make ps fail")
    args = parser.parse_args()
    raise SystemExit(aioipc.run(main(args.bad), loop=args.loop))
