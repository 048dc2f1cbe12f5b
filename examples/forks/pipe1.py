"""Bidirectional communication with yourself over two pipes: perlipc's ``pipe1``.

perlipc ("Bidirectional Communication with Yourself")::

    pipe(PARENT_RDR, CHILD_WTR);
    pipe(CHILD_RDR,  PARENT_WTR);
    if ($pid = fork) {
        close PARENT_RDR; close PARENT_WTR;
        print CHILD_WTR "Parent Pid $$ is sending this\\n";
        chomp($line = <CHILD_RDR>);
        print "Parent Pid $$ just read this: `$line'\\n";
        close CHILD_RDR; close CHILD_WTR;
        waitpid($pid,0);
    } else {
        close CHILD_RDR; close CHILD_WTR;
        chomp($line = <PARENT_RDR>);
        print "Child Pid $$ just read this: `$line'\\n";
        print PARENT_WTR "Child Pid $$ is sending this\\n";
        close PARENT_RDR; close PARENT_WTR;
        exit;
    }

``open_fork(child, stdin=PIPE, stdout=PIPE)`` makes both pipes, puts the child's ends on
its stdin and stdout, and closes every end that each side does not use -- the four
``close`` calls above, which are easy to forget and deadlock when forgotten.  Since the
child's stdout is the pipe, it writes its diary line on stderr.  No autoflush dance
either: the streams have no buffer to forget, and the child flushes ``sys.stdout``
before it leaves (always through ``os._exit``)::

    python examples/forks/pipe1.py [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import os
import sys

import aioipc


def child() -> None:
    line = sys.stdin.readline().rstrip("\n")
    print(f"Child Pid {os.getpid()} just read this: `{line}'", file=sys.stderr, flush=True)
    print(f"Child Pid {os.getpid()} is sending this")


async def main() -> int:
    async with aioipc.open_fork(child, stdin=aioipc.PIPE, stdout=aioipc.PIPE) as kid:
        assert kid.stdin is not None
        assert kid.stdout is not None
        await kid.stdin.send_line(f"Parent Pid {os.getpid()} is sending this")
        line = (await kid.stdout.readline()).decode()
        print(f"Parent Pid {os.getpid()} just read this: `{line}'", flush=True)
    # Leaving the block closed both pipes and reaped the child: waitpid($pid, 0).
    return 0 if kid.returncode == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    raise SystemExit(aioipc.run(main(), loop=options.loop))
