"""perlipc's IO::Socket client: print what the daytime service at port 13 says.

perlipc ("TCP Clients with IO::Socket", "A Simple Client")::

    use IO::Socket;
    $remote = IO::Socket::INET->new(
                        Proto    => "tcp",
                        PeerAddr => "localhost",
                        PeerPort => "daytime(13)",
                    )
                  or die "cannot connect to daytime port at localhost";
    while ( <$remote> ) { print }

``aioipc.connect(host=..., port=...)`` takes IO::Socket's ``PeerAddr`` and
``PeerPort``, ``"daytime(13)"`` included: the port ``/etc/services`` gives for
``daytime``, or 13 if it has none.  ``--host`` and ``--port`` point it elsewhere --
``time_server.py`` answers daytime on any port::

    python examples/sockets/daytime_client.py [--loop asyncio|uvloop] [--host localhost]
        [--port 'daytime(13)']
"""

from __future__ import annotations

import argparse
import sys

import aioipc


async def main(host: str, port: str) -> int:
    try:
        remote = await aioipc.connect(host=host, port=port)
    except (OSError, ValueError) as exc:
        print(f"cannot connect to daytime port at {host}: {exc}", file=sys.stderr)
        return 1
    async with remote:
        async for line in remote.lines():
            print(line.decode(errors="replace"), flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="localhost", help="PeerAddr (localhost)")
    parser.add_argument("--port", default="daytime(13)", help="PeerPort (daytime(13))")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    raise SystemExit(aioipc.run(main(options.host, options.port), loop=options.loop))
