"""perlipc's Unix-domain client: connect to the ``catsock`` rendezvous, print what comes.

perlipc ("Unix-Domain TCP Clients and Servers")::

    $rendezvous = shift || 'catsock';
    socket(SOCK, PF_UNIX, SOCK_STREAM, 0)       || die "socket: $!";
    connect(SOCK, sockaddr_un($rendezvous))     || die "connect: $!";
    while (defined($line = <SOCK>)) {
        print $line;
    }

The rendezvous is a path in the file system, written ``unix:PATH`` for
``aioipc.connect``; ``unix:@NAME`` would be a Linux abstract socket, which has no file.
Talk to ``unix_server.py``::

    python examples/sockets/unix_client.py [--loop asyncio|uvloop] [RENDEZVOUS]

It exits 1 with the reason on stderr when it cannot connect (no such file, nobody
listening, not allowed).
"""

from __future__ import annotations

import argparse
import sys

import aioipc


async def main(rendezvous: str) -> int:
    try:
        sock = await aioipc.connect(f"unix:{rendezvous}")
    except (OSError, ValueError) as exc:
        print(f"unix_client: {exc}", file=sys.stderr)
        return 1
    async with sock:
        async for line in sock.lines():
            print(line.decode(errors="replace"), flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rendezvous", nargs="?", default="catsock", help="socket path (catsock)")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    raise SystemExit(aioipc.run(main(options.rendezvous), loop=options.loop))
