"""perlipc's Internet TCP server: greet each client by name with the time, then hang up.

perlipc ("Internet TCP Clients and Servers")::

    my $EOL = "\\015\\012";
    sub logmsg { print "$0 $$: @_ at ", scalar localtime, "\\n" }
    my $port = shift || 2345;
    ...
    bind(Server, sockaddr_in($port, INADDR_ANY))        || die "bind: $!";
    listen(Server,SOMAXCONN)                            || die "listen: $!";
    logmsg "server started on port $port";
    for ( ; $paddr = accept(Client,Server); close Client) {
        my($port,$iaddr) = sockaddr_in($paddr);
        my $name = gethostbyaddr($iaddr,AF_INET);
        logmsg "connection from $name [", inet_ntoa($iaddr), "] at port $port";
        print Client "Hello there, $name, it's now ", scalar localtime, $EOL;
    }

``aioipc.serve`` does socket, ``SO_REUSEADDR``, bind and listen, and runs the handler
in a task per connection, so a client whose name takes long to look up does not hold
up the next one; the stream is closed when the handler returns (``close Client``).
``send_line`` ends lines with ``$EOL`` (``\\r\\n``) on TCP by itself.  The reverse
lookup runs in the loop's resolver threads (``getnameinfo``), not in the loop.

Unlike perlipc's server, this one listens on 127.0.0.1 unless told otherwise
(``--host 0.0.0.0`` for INADDR_ANY).  Once listening it prints ``READY <address>``
(with the port the kernel chose for port 0).  SIGTERM or Ctrl-C closes it; it lets
the clients being greeted finish and exits 0::

    python examples/sockets/tcp_server.py [--loop asyncio|uvloop] [--host HOST] [PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import anyio.abc

import aioipc

PROGRAM = sys.argv[0]


def logmsg(*parts: object) -> None:
    print(f"{PROGRAM} {os.getpid()}:", *parts, "at", time.ctime(), flush=True)


async def host_name(host: str, port: int) -> str:
    """gethostbyaddr: the peer's name, or its address when it has none."""
    name, _ = await asyncio.get_running_loop().getnameinfo((host, port))
    return name


async def greet(client: aioipc.Stream) -> None:
    peer = client.extra(anyio.abc.SocketAttribute.remote_address)
    assert isinstance(peer, tuple)  # a TCP peer: (host, port) or (host, port, flow, scope)
    host, port = peer[0], peer[1]
    name = await host_name(host, port)
    logmsg(f"connection from {name} [{host}] at port {port}")
    await client.send_line(f"Hello there, {name}, it's now {time.ctime()}")


async def main(host: str, port: str) -> int:
    stop = asyncio.Event()
    async with aioipc.serve(greet, aioipc.parse_address(host=host, port=port)) as server:
        logmsg(f"server started on port {server.addresses[0].port}")
        print("READY", *server.addresses, flush=True)
        with aioipc.on_signal("TERM", lambda _: stop.set()):
            await stop.wait()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", nargs="?", default="2345", help="port (2345; 0: any free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    try:
        raise SystemExit(aioipc.run(main(options.host, options.port), loop=options.loop))
    except KeyboardInterrupt:
        raise SystemExit(0) from None
