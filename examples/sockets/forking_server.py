"""perlipc's forking TCP server: a child per client, reaped without a REAPER.

perlipc ("Internet TCP Clients and Servers", the "multithreaded version")::

    sub REAPER {
        local $!;   # don't let waitpid() overwrite current error
        while ((my $pid = waitpid(-1,WNOHANG)) > 0 && WIFEXITED($?)) {
            logmsg "reaped $waitedpid" . ($? ? " with exit $?" : '');
        }
        $SIG{CHLD} = \\&REAPER;  # loathe SysV
    }
    $SIG{CHLD} = \\&REAPER;
    while(1) {
        $paddr = accept(Client, Server) || do {
            # try again if accept() returned because a signal was received
            next if $!{EINTR};
            die "accept: $!";
        };
        ...
        logmsg "connection from $name [", inet_ntoa($iaddr), "] at port $port";
        spawn sub {
            $|=1;
            print "Hello there, $name, it's now ", scalar localtime, $EOL;
            exec '/usr/games/fortune'       # XXX: `wrong' line terminators
                or confess "can't exec fortune: $!";
        };
        close Client;
    }

``aioipc.serve_forking(hello, address)`` is the whole loop and ``spawn``: for each
connection it forks a child whose stdin and stdout are the client socket (the two
``open(STD..., "&Client")``), runs ``hello`` there, and closes the parent's copy of
the socket (``close Client``).  There is no REAPER and no EINTR test: each child is
handed to aioipc's child watcher, which waits on that child's pidfd and reaps exactly
that pid -- ``waitpid(-1)`` would also reap children that other code started -- and
the accept runs only when the event loop sees a connection waiting.

The server's log lines ("began child", "reaped child") come from the ``aioipc.serve``
logger, printed here in ``logmsg``'s format; a child that fails is logged with its
exit status, like the REAPER's "with exit $?".  The child prints a fortune cookie
from a built-in list rather than exec'ing ``/usr/games/fortune``, so every line ends
with ``\\r\\n`` (perlipc's "XXX: wrong line terminators").  ``--max-children`` limits
how many children run at once; further clients wait in the listen backlog.

Once listening it prints ``READY <address>``; SIGTERM or Ctrl-C closes it, waits for
the children still running and exits 0::

    python examples/sockets/forking_server.py [--loop asyncio|uvloop] [--host HOST]
        [--max-children N] [PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import socket
import sys
import time

import aioipc

PROGRAM = sys.argv[0]
EOL = "\r\n"
COOKIES = [
    "It is easier to code two processes to do one thing than one process to do two.",
    "Be strict in what you send and lenient in what you accept.",
    "A zombie is a child nobody waited for.",
    "There is more than one way to do it.",
]


def logmsg(*parts: object) -> None:
    print(f"{PROGRAM} {os.getpid()}:", *parts, "at", time.ctime(), flush=True)


class LogmsgHandler(logging.Handler):
    """Print the server's own log records the way perlipc's ``logmsg`` does."""

    def emit(self, record: logging.LogRecord) -> None:
        logmsg(record.getMessage())


def hello(client: socket.socket) -> None:
    """The child: stdout is the client, as after perlipc's ``open(STDOUT, ">&Client")``."""
    host, port = client.getpeername()[:2]
    name, _ = socket.getnameinfo((host, port), 0)  # a blocking lookup is fine in a child
    print(f"Hello there, {name}, it's now {time.ctime()}", end=EOL)
    print(random.choice(COOKIES), end=EOL)


async def main(host: str, port: str, max_children: int) -> int:
    address = aioipc.parse_address(host=host, port=port)
    stop = asyncio.Event()
    async with aioipc.serve_forking(hello, address, max_children=max_children) as server:
        logmsg(f"server started on port {server.addresses[0].port}")
        print("READY", *server.addresses, flush=True)
        with aioipc.on_signal("TERM", lambda _: stop.set()):
            await stop.wait()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", nargs="?", default="2345", help="port (2345; 0: any free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--max-children", type=int, default=64)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    serve_log = logging.getLogger("aioipc.serve")
    serve_log.addHandler(LogmsgHandler())
    serve_log.setLevel(logging.DEBUG)
    try:
        raise SystemExit(
            aioipc.run(main(options.host, options.port, options.max_children), loop=options.loop)
        )
    except KeyboardInterrupt:
        raise SystemExit(0) from None
