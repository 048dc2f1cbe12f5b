"""perlipc's Internet TCP client: connect, print every line the server sends, exit.

perlipc ("Internet TCP Clients and Servers")::

    $remote  = shift || 'localhost';
    $port    = shift || 2345;  # random port
    if ($port =~ /\\D/) { $port = getservbyname($port, 'tcp') }
    die "No port" unless $port;
    $iaddr   = inet_aton($remote)               || die "no host: $remote";
    $paddr   = sockaddr_in($port, $iaddr);
    $proto   = getprotobyname('tcp');
    socket(SOCK, PF_INET, SOCK_STREAM, $proto)  || die "socket: $!";
    connect(SOCK, $paddr)    || die "connect: $!";
    while (defined($line = <SOCK>)) {
        print $line;
    }
    close (SOCK)            || die "close: $!";

``aioipc.connect(host=..., port=...)`` does the lookup (a port may be a number, a
service name from ``/etc/services`` or IO::Socket's ``"name(number)"``), the socket
and the connect in one call, and tries each address a name resolves to (IPv4 and
IPv6), where ``inet_aton`` knows IPv4 only.  ``lines()`` accepts ``\\r\\n`` or ``\\n``
(perlipc's "Internet Line Terminators") and removes it; each line is printed with a
plain ``\\n``.  Talk to ``tcp_server.py``::

    python examples/sockets/tcp_client.py [--loop asyncio|uvloop] [HOST [PORT]]

It exits 1 with the reason on stderr when it cannot connect.
"""

from __future__ import annotations

import argparse
import sys

import aioipc


async def main(remote: str, port: str) -> int:
    try:
        sock = await aioipc.connect(host=remote, port=port)
    except (OSError, ValueError) as exc:
        print(f"tcp_client: {exc}", file=sys.stderr)
        return 1
    async with sock:
        async for line in sock.lines():
            print(line.decode(errors="replace"), flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("remote", nargs="?", default="localhost", help="host (localhost)")
    parser.add_argument("port", nargs="?", default="2345", help="port or service (2345)")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    raise SystemExit(aioipc.run(main(options.remote, options.port), loop=options.loop))
