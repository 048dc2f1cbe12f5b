"""perlipc's webget: fetch documents from a web server with HTTP/1.0 GET.

perlipc ("TCP Clients with IO::Socket", "A Webget Client")::

    unless (@ARGV > 1) { die "usage: $0 host document ..." }
    $host = shift(@ARGV);
    $EOL = "\\015\\012";
    $BLANK = $EOL x 2;
    foreach $document ( @ARGV ) {
        $remote = IO::Socket::INET->new( Proto     => "tcp",
                                         PeerAddr  => $host,
                                         PeerPort  => "http(80)",
                                        );
        unless ($remote) { die "cannot connect to http daemon on $host" }
        $remote->autoflush(1);
        print $remote "GET $document HTTP/1.0" . $BLANK;
        while ( <$remote> ) { print }
        close $remote;
    }

One connection per document, as HTTP/1.0 wants.  The request line ends with
``$BLANK`` (``\\r\\n\\r\\n``); a ``Stream`` has no buffer, so there is no
``autoflush`` to forget.  The response -- status line, headers, blank line, body --
is copied to stdout byte for byte as it arrives (``receive()``, not ``lines()``), so
a binary body survives and the header lines keep their ``\\r\\n``, as perlipc's
``print`` keeps them.  ``--port`` (IO::Socket's ``PeerPort``, ``http(80)`` by default)
points it at a server on another port::

    python examples/sockets/webget.py [--loop asyncio|uvloop] [--port 'http(80)'] HOST DOCUMENT...
"""

from __future__ import annotations

import argparse
import sys

import anyio

import aioipc

EOL = "\r\n"
BLANK = EOL * 2


async def get(remote: aioipc.Stream, document: str) -> None:
    """Send one GET and copy the whole response to stdout."""
    await remote.send(f"GET {document} HTTP/1.0{BLANK}".encode())
    while True:
        try:
            chunk = await remote.receive()
        except anyio.EndOfStream:
            break
        sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


async def main(host: str, port: str, documents: list[str]) -> int:
    for document in documents:
        try:
            remote = await aioipc.connect(host=host, port=port)
        except (OSError, ValueError) as exc:
            print(f"cannot connect to http daemon on {host}: {exc}", file=sys.stderr)
            return 1
        async with remote:
            await get(remote, document)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host")
    parser.add_argument("documents", nargs="+", metavar="document")
    parser.add_argument("--port", default="http(80)", help="PeerPort (http(80))")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    raise SystemExit(
        aioipc.run(main(options.host, options.port, options.documents), loop=options.loop)
    )
