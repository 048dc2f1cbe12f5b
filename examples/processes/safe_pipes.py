"""Safe pipe opens: running a program without a shell, reading from it and writing to it.

perlipc ("Safe Pipe Opens") forks and execs by hand so that no shell gets its hands on
the arguments::

    $pid = open(KID_TO_READ, "-|");
    if ($pid) { while (<KID_TO_READ>) { ... } close(KID_TO_READ) || warn "kid exited $?"; }
    else      { exec($program, @options, @args) || die "can't exec program: $!"; }

and, since Perl 5.8, ``open KID_PS, "-|", "ps", "aux"``: the list form.  aioipc's
``pipe_from`` and ``pipe_to`` take only the list form, so arguments full of shell
metacharacters stay plain arguments.  This program reads ``ls`` of a directory holding
a file named like an injection, and writes such lines through ``tr``.  It then shows
perlipc's ``|bogus`` problem solved twice over: a program that does not exist fails
when the pipe is opened (not with a SIGPIPE later), and a program that dies before
reading makes ``send()`` raise ``aioipc.BrokenPipe`` naming it and how it ended::

    python examples/processes/safe_pipes.py [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import aioipc

HOSTILE = "notes; echo INJECTED $(id -u) `date` > /tmp/x"


async def read_listing(directory: Path) -> None:
    # open(KID_TO_READ, "-|", "ls", "-1", $dir): ls gets the name as one argument.
    async with aioipc.pipe_from(["ls", "-1", str(directory)]) as listing:
        async for line in listing.lines():
            print(f"ls: {line.decode()}", flush=True)


async def write_through_tr() -> None:
    # open(KID_TO_WRITE, "|-", "tr", "a-z", "A-Z"): tr's output is ours.
    async with aioipc.pipe_to(["tr", "a-z", "A-Z"]) as kid:
        await kid.send_line("tr: " + HOSTILE)


async def bogus() -> None:
    try:
        async with aioipc.pipe_to(["bogus-command-for-perlipc"]) as kid:
            await kid.send_line("bang")
    except FileNotFoundError as error:
        # The message also names the command and the PATH searched.
        print(f"can't start {error.filename}: {os.strerror(error.errno or 0)}", flush=True)


async def dies_early() -> None:
    try:
        async with aioipc.pipe_to(["sh", "-c", "exit 3"]) as kid:
            while True:  # it never reads: the pipe breaks once it is gone
                await kid.send(b"bang\n" * 1024)
    except aioipc.BrokenPipe as error:
        print(f"whoops, pipe broke: {error}", flush=True)


async def main() -> int:
    with tempfile.TemporaryDirectory() as directory:
        Path(directory, HOSTILE.replace("/", "|")).touch()
        await read_listing(Path(directory))
    await write_through_tr()
    await bogus()
    await dies_early()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args()
    raise SystemExit(aioipc.run(main(), loop=args.loop))
