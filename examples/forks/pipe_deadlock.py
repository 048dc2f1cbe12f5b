"""Two children, one pipe each, and EOF where it belongs: perlipc's "Avoiding Pipe Deadlocks".

perlipc ("Avoiding Pipe Deadlocks"): "any child process which is reading from the pipe
and expecting an EOF will never receive it, and therefore never exit.  A single process
closing a pipe is not enough to close it; the last process with the pipe open must close
it for it to read EOF."  Its cure, by hand::

    pipe(READER, WRITER);
    $pid = fork();
    if ($pid) {
        close READER;
        if (my $sub_pid = fork()) {
            close WRITER;
        } else {
            # write to WRITER...
            exit;
        }
        # write to WRITER...
    } else {
        open STDIN, "<&READER";
        close WRITER;
        # do something...
        exit;
    }

Here the parent starts a first kid reading its stdin to EOF, then a second kid while the
first one still runs, and only then writes to the first kid and closes its end.  Forked
by hand, the second kid would hold a copy of the first kid's write end, and the first kid
would never see EOF.  With ``open_fork`` it does: every fd aioipc creates is close-on-exec
(for the programs started later) and a forked child closes every fd it inherited but its
own pipes (close-on-exec does nothing without an exec).  The second kid checks
``/proc/self/fd`` for the first kid's pipe and reports what it found.  Should the first
kid not see EOF anyway, the parent gives up after a few seconds instead of hanging::

    python examples/forks/pipe_deadlock.py [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import aioipc

FIRST_DATA = ["one", "two", "three"]
SECOND_DATA = ["alpha", "beta"]
EOF_TIMEOUT = 5.0


def holds_pipe(inode: int) -> bool:
    """Whether this process has the pipe with this inode open, on any fd."""
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # the fd listdir() used, closed by now
        if target == f"pipe:[{inode}]":
            return True
    return False


def first_kid() -> None:
    lines = [line.rstrip("\n") for line in sys.stdin]  # until EOF
    print(f"first kid got {lines} and then EOF")


def second_kid(first_pipe: int) -> None:
    holds = holds_pipe(first_pipe)  # before it reads: the parent still writes to it
    lines = [line.rstrip("\n") for line in sys.stdin]
    print(f"second kid holds the first kid's pipe: {'yes' if holds else 'no'}")
    print(f"second kid got {lines} and then EOF")


async def feed(kid: aioipc.ForkedProcess, lines: list[str]) -> None:
    assert kid.stdin is not None
    for line in lines:
        await kid.stdin.send_line(line)
    await kid.stdin.aclose()  # our end, the only write end left: the kid sees EOF


async def main() -> int:
    async with aioipc.open_fork(first_kid, stdin=aioipc.PIPE) as first:
        assert first.stdin is not None
        first_pipe = os.fstat(first.stdin.extra(aioipc.StreamAttribute.fd)).st_ino
        async with aioipc.open_fork(second_kid, first_pipe, stdin=aioipc.PIPE) as second:
            # The second kid runs, and keeps running until its own stdin ends.
            await feed(first, FIRST_DATA)
            try:
                async with asyncio.timeout(EOF_TIMEOUT):
                    await first.wait()
            except TimeoutError:
                print("deadlock: the first kid never saw EOF", flush=True)
                first.kill()
                await first.wait()
            await feed(second, SECOND_DATA)
    for name, kid in (("first", first), ("second", second)):
        print(f"{name} kid {kid.status}")
    sys.stdout.flush()
    return 0 if first.returncode == second.returncode == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    raise SystemExit(aioipc.run(main(), loop=options.loop))
