"""perlipc's command-prompt server: quit, date, who, cookie and motd, one client at a time.

perlipc ("TCP Servers with IO::Socket")::

    $server = IO::Socket::INET->new( Proto     => 'tcp',
                                     LocalPort => $PORT,
                                     Listen    => SOMAXCONN,
                                     Reuse     => 1);
    die "can't setup server" unless $server;
    print "[Server $0 accepting clients]\\n";
    while ($client = $server->accept()) {
      $client->autoflush(1);
      print $client "Welcome to $0; type help for command list.\\n";
      $hostinfo = gethostbyaddr($client->peeraddr);
      printf "[Connect from %s]\\n", $hostinfo ? $hostinfo->name : $client->peerhost;
      print $client "Command? ";
      while ( <$client>) {
        next unless /\\S/;       # blank line
        if    (/quit|exit/i)    { last;                                     }
        elsif (/date|time/i)    { printf $client "%s\\n", scalar localtime;  }
        elsif (/who/i )         { print  $client `who 2>&1`;                }
        elsif (/cookie/i )      { print  $client `/usr/games/fortune 2>&1`; }
        elsif (/motd/i )        { print  $client `cat /etc/motd 2>&1`;      }
        else {
          print $client "Commands: quit date who cookie motd\\n";
        }
      } continue {
         print $client "Command? ";
      }
      close $client;
    }

``aioipc.serve(session, address, max_connections=1)`` serves one client at a time,
as perlipc's loop does: the next client waits in the listen backlog until this one
quits (raise ``max_connections`` and the same code serves many at once, each in its
own task).  The commands match anywhere in the line, case-insensitively, as
perlipc's regular expressions do (``exit``, ``time`` and ``help`` work too).  No
command runs a program or a shell; the answers are built in:

- ``date``/``time``: the local time;
- ``who``: who runs this server and who is connected to it (no ``who(1)``);
- ``cookie``: a fortune cookie from a list in this file (no ``fortune``);
- ``motd``: the file given by ``--motd`` (``/etc/motd``), read by the server itself
  (no ``cat``), or a line saying there is none.

Lines end with ``\\r\\n`` (``send_line`` on TCP); the prompt ``Command? `` has no line
end, so clients must show what arrives without waiting for a newline (see
``interactive_client.py``).  Lines the client sends may end with ``\\n`` or ``\\r\\n``.
A line longer than 64 KiB ends that client's session with a message.

The server prints ``[Server ... accepting clients]``, then ``READY <address>``, and
``[Connect from <name>]`` for each client.  SIGTERM or Ctrl-C closes it (exit 0)::

    python examples/sockets/command_server.py [--loop asyncio|uvloop] [--host 127.0.0.1]
        [--port 9000] [--motd /etc/motd]
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import random
import re
import sys
import time
from pathlib import Path

import anyio.abc

import aioipc

PROGRAM = sys.argv[0]
COOKIES = [
    "It's easier to code two processes to do one thing than one process to do two.",
    "Be strict in what you send and lenient in what you accept.",
    "Constant numbers make careful programmers nervous.",
    "Never send a shell to do a function's job.",
]
HELP = "Commands: quit date who cookie motd"


class Session:
    """One client's conversation; ``motd`` is the file the ``motd`` command shows."""

    def __init__(self, motd: Path) -> None:
        self.motd = motd

    async def __call__(self, client: aioipc.Stream) -> None:
        peer = client.extra(anyio.abc.SocketAttribute.remote_address)
        assert isinstance(peer, tuple)  # a TCP peer: (host, port) or (host, port, flow, scope)
        host, port = peer[0], peer[1]
        since = time.ctime()
        await client.send_line(f"Welcome to {PROGRAM}; type help for command list.")
        name, _ = await asyncio.get_running_loop().getnameinfo((host, port))
        print(f"[Connect from {name}]", flush=True)
        await client.send(b"Command? ")
        try:
            async for raw in client.lines():
                line = raw.decode(errors="replace")
                if re.search(r"\S", line):
                    if re.search("quit|exit", line, re.IGNORECASE):
                        break
                    for answer in self.answer(line, f"{host} port {port} since {since}"):
                        await client.send_line(answer)
                await client.send(b"Command? ")
        except aioipc.LineTooLong:
            await client.send_line("Line too long; goodbye.")

    def answer(self, line: str, peer: str) -> list[str]:
        if re.search("date|time", line, re.IGNORECASE):
            return [time.ctime()]
        if re.search("who", line, re.IGNORECASE):
            return [f"{getpass.getuser()} runs this server", f"you are {peer}"]
        if re.search("cookie", line, re.IGNORECASE):
            return [random.choice(COOKIES)]
        if re.search("motd", line, re.IGNORECASE):
            try:
                return self.motd.read_text(errors="replace").splitlines()
            except OSError as exc:
                return [f"No message of the day ({exc.strerror}: {self.motd})."]
        return [HELP]


async def main(host: str, port: str, motd: Path) -> int:
    address = aioipc.parse_address(host=host, port=port)
    stop = asyncio.Event()
    async with aioipc.serve(Session(motd), address, max_connections=1) as server:
        print(f"[Server {PROGRAM} accepting clients]", flush=True)
        print("READY", *server.addresses, flush=True)
        with aioipc.on_signal("TERM", lambda _: stop.set()):
            await stop.wait()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", default="9000", help="port (9000; 0: any free one)")
    parser.add_argument("--motd", type=Path, default=Path("/etc/motd"), help="(/etc/motd)")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    try:
        raise SystemExit(
            aioipc.run(main(options.host, options.port, options.motd), loop=options.loop)
        )
    except KeyboardInterrupt:
        raise SystemExit(0) from None
