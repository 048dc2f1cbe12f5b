"""Bidirectional communication with yourself over a socketpair: perlipc's ``pipe2``.

perlipc ("Bidirectional Communication with Yourself")::

    socketpair(CHILD, PARENT, AF_UNIX, SOCK_STREAM, PF_UNSPEC)
                                or  die "socketpair: $!";
    if ($pid = fork) {
        close PARENT;
        print CHILD "Parent Pid $$ is sending this\\n";
        chomp($line = <CHILD>);
        print "Parent Pid $$ just read this: `$line'\\n";
        close CHILD;
        waitpid($pid,0);
    } else {
        close CHILD;
        chomp($line = <PARENT>);
        print "Child Pid $$ just read this: `$line'\\n";
        print PARENT "Child Pid $$ is sending this\\n";
        close PARENT;
        exit;
    }

"The best ones always go both ways": ``open_fork(child, channel=True)`` makes the
socketpair, gives the child its end as the first argument (a plain blocking socket,
since ``child`` is a plain function) and the parent ``kid.channel``, an
:class:`aioipc.Stream`.  The child shares our stdout, as in Perl::

    python examples/forks/pipe2.py [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import os
import socket

import aioipc


def child(parent: socket.socket) -> None:
    with parent.makefile("rb") as reader:
        line = reader.readline().decode().rstrip("\n")
    print(f"Child Pid {os.getpid()} just read this: `{line}'", flush=True)
    parent.sendall(f"Child Pid {os.getpid()} is sending this\n".encode())


async def main() -> int:
    async with aioipc.open_fork(child, channel=True) as kid:
        assert kid.channel is not None
        await kid.channel.send_line(f"Parent Pid {os.getpid()} is sending this")
        line = (await kid.channel.readline()).decode()
        print(f"Parent Pid {os.getpid()} just read this: `{line}'", flush=True)
    return 0 if kid.returncode == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    raise SystemExit(aioipc.run(main(), loop=options.loop))
