"""perlipc's multi-host TCP time client (RFC 868): how far off is each host's clock?

perlipc ("Internet TCP Clients and Servers")::

    my $SECS_of_70_YEARS = 2208988800;
    sub ctime { scalar localtime(shift) }
    ...
    my $port = getservbyname('time', 'tcp');
    $| = 1;
    printf "%-24s %8s %s\\n",  "localhost", 0, ctime(time());
    foreach $host (@ARGV) {
        printf "%-24s ", $host;
        my $hisiaddr = inet_aton($host)     || die "unknown host";
        my $hispaddr = sockaddr_in($port, $hisiaddr);
        socket(SOCKET, PF_INET, SOCK_STREAM, $proto)   || die "socket: $!";
        connect(SOCKET, $hispaddr)          || die "connect: $!";
        my $rtime = '    ';
        read(SOCKET, $rtime, 4);
        close(SOCKET);
        my $histime = unpack("N", $rtime) - $SECS_of_70_YEARS;
        printf "%8d %s\\n", $histime - time, ctime($histime);
    }

A time server sends the seconds since 1900 as a 32-bit big-endian number and closes.
``receive_exactly(4)`` is Perl's ``read(SOCKET, $rtime, 4)`` made strict: a server
that hangs up early raises ``aioipc.IncompleteRead`` instead of leaving garbage in
``$rtime``.  A host that cannot be reached is reported on that host's line and the
program goes on to the next one (exiting 1 at the end) rather than ``die`` at the
first.  ``--port`` picks the port (``time(37)``, as IO::Socket would write it); talk
to ``time_server.py``::

    python examples/sockets/time_client.py [--loop asyncio|uvloop] [--port PORT] HOST...
"""

from __future__ import annotations

import argparse
import struct
import time

import aioipc

SECS_OF_70_YEARS = 2208988800


async def his_time(host: str, port: str) -> int:
    """The time on ``host`` in seconds since 1970, by RFC 868 over TCP."""
    async with aioipc.connect(host=host, port=port, timeout=10) as sock:
        rtime = await sock.receive_exactly(4)
    since_1900: int
    (since_1900,) = struct.unpack("!I", rtime)
    return since_1900 - SECS_OF_70_YEARS


async def main(hosts: list[str], port: str) -> int:
    status = 0
    print(f"{'localhost':<24} {0:>8} {time.ctime()}", flush=True)
    for host in hosts:
        print(f"{host:<24} ", end="", flush=True)
        try:
            histime = await his_time(host, port)
        except (OSError, ValueError, aioipc.IncompleteRead) as exc:
            print(f"no time: {exc}", flush=True)
            status = 1
            continue
        print(f"{histime - int(time.time()):>8} {time.ctime(histime)}", flush=True)
    return status


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hosts", nargs="*", metavar="HOST")
    parser.add_argument("--port", default="time(37)", help="the time port (time(37))")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    raise SystemExit(aioipc.run(main(options.hosts, options.port), loop=options.loop))
