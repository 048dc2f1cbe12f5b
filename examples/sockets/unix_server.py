"""perlipc's Unix-domain server: a forked child greets each client on ``catsock``.

perlipc ("Unix-Domain TCP Clients and Servers")::

    my $NAME = 'catsock';
    my $uaddr = sockaddr_un($NAME);
    socket(Server,PF_UNIX,SOCK_STREAM,0)        || die "socket: $!";
    unlink($NAME);
    bind  (Server, $uaddr)                      || die "bind: $!";
    listen(Server,SOMAXCONN)                    || die "listen: $!";
    logmsg "server started on $NAME";
    ...
    $SIG{CHLD} = \\&REAPER;
    for ( $waitedpid = 0;
          accept(Client,Server) || $waitedpid;
          $waitedpid = 0, close Client)
    {
        next if $waitedpid;
        logmsg "connection on $NAME";
        spawn sub {
            print "Hello there, it's now ", scalar localtime, "\\n";
            exec '/usr/games/fortune' or die "can't exec fortune: $!";
        };
    }

The same forking server as ``forking_server.py``, on a Unix socket:
``aioipc.serve_forking(hello, "unix:catsock")``, with the child watcher instead of
the REAPER and of the ``$waitedpid`` dance around an interrupted ``accept``.  Lines
end in a plain ``\\n`` here: "Unix domain sockets are guaranteed to be on the
localhost".  Two things differ on purpose:

- ``unlink($NAME)`` removes whatever is at the path, even another server's live
  socket or a regular file.  aioipc removes only a *stale* socket -- a socket nobody
  answers on -- and refuses anything else with ``FileExistsError``.  The file is
  created with mode 0600 (only this user may connect; ``--mode`` changes it) and
  removed when the server closes.
- The children print a fortune cookie of their own rather than exec ``fortune``.

Once listening it prints ``READY unix:<path>``; SIGTERM or Ctrl-C closes it, waits for
the children still running, removes the socket file and exits 0::

    python examples/sockets/unix_server.py [--loop asyncio|uvloop] [--mode 0600] [PATH]
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
COOKIES = [
    "A named pipe has no sessions; a socket gives each client its own.",
    "The kernel reaps nobody: somebody has to wait.",
    "Unix domain sockets show up in an ls(1) listing.",
]


def logmsg(*parts: object) -> None:
    print(f"{PROGRAM} {os.getpid()}:", *parts, "at", time.ctime(), flush=True)


class LogmsgHandler(logging.Handler):
    """Print the server's own log records the way perlipc's ``logmsg`` does."""

    def emit(self, record: logging.LogRecord) -> None:
        logmsg(record.getMessage())


def hello(client: socket.socket) -> None:
    """The child, with the client as its stdin and stdout."""
    print(f"Hello there, it's now {time.ctime()}")
    print(random.choice(COOKIES))


async def main(name: str, mode: int) -> int:
    stop = asyncio.Event()
    async with aioipc.serve_forking(hello, f"unix:{name}", unix_mode=mode) as server:
        logmsg(f"server started on {name}")
        print("READY", *server.addresses, flush=True)
        with aioipc.on_signal("TERM", lambda _: stop.set()):
            await stop.wait()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="catsock", help="socket path (catsock)")
    parser.add_argument("--mode", type=lambda text: int(text, 8), default=0o600)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    serve_log = logging.getLogger("aioipc.serve")
    serve_log.addHandler(LogmsgHandler())
    serve_log.setLevel(logging.DEBUG)
    try:
        raise SystemExit(aioipc.run(main(options.name, options.mode), loop=options.loop))
    except KeyboardInterrupt:
        raise SystemExit(0) from None
