"""perlipc's UDP time query: ask many hosts at once on one socket, wait with a timeout.

perlipc ("UDP: Message Passing")::

    $SECS_of_70_YEARS      = 2208988800;
    $iaddr = gethostbyname(hostname());
    $proto = getprotobyname('udp');
    $port = getservbyname('time', 'udp');
    $paddr = sockaddr_in(0, $iaddr); # 0 means let kernel pick
    socket(SOCKET, PF_INET, SOCK_DGRAM, $proto)   || die "socket: $!";
    bind(SOCKET, $paddr)                          || die "bind: $!";
    $| = 1;
    printf "%-12s %8s %s\\n",  "localhost", 0, scalar localtime time;
    $count = 0;
    for $host (@ARGV) {
        $count++;
        $hisiaddr = inet_aton($host)    || die "unknown host";
        $hispaddr = sockaddr_in($port, $hisiaddr);
        defined(send(SOCKET, 0, 0, $hispaddr))    || die "send $host: $!";
    }
    $rin = '';
    vec($rin, fileno(SOCKET), 1) = 1;
    # timeout after 10.0 seconds
    while ($count && select($rout = $rin, undef, undef, 10.0)) {
        $rtime = '';
        ($hispaddr = recv(SOCKET, $rtime, 4, 0))        || die "recv: $!";
        ($port, $hisiaddr) = sockaddr_in($hispaddr);
        $host = gethostbyaddr($hisiaddr, AF_INET);
        $histime = unpack("N", $rtime) - $SECS_of_70_YEARS;
        printf "%-12s ", $host;
        printf "%8d %s\\n", $histime - time, scalar localtime($histime);
        $count--;
    }

``aioipc.open_datagram("udp://127.0.0.1:0")`` is the socket and the bind (port 0:
the kernel picks); ``send(data, address)`` and ``receive()`` are ``send`` and
``recv``, and ``asyncio.timeout`` around each ``receive()`` is the ``select`` with
its 10-second timeout -- the wait for the next answer, not for all of them.  The
answers come in whatever order the hosts send them, named by the address they came
from.  The query is an empty datagram, as RFC 868 asks (perlipc sends the string
``"0"``; servers ignore what the query holds).  When the wait runs out with hosts
still silent it says how many on stderr and exits 1; perlipc exits quietly.  Like
perlipc's, it does not retry: UDP may lose a query or an answer.

``--port`` is the servers' port (``time(37)``); ``--bind`` the local address
(``udp://[::1]:0`` to ask IPv6 hosts).  Ask ``time_server.py``::

    python examples/sockets/udp_time_query.py [--loop asyncio|uvloop] [--port 'time(37)']
        [--timeout 10] [--bind udp://127.0.0.1:0] HOST...
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import struct
import sys
import time

import aioipc

SECS_OF_70_YEARS = 2208988800


async def main(hosts: list[str], port: str, timeout: float, bind: str) -> int:
    loop = asyncio.get_running_loop()
    async with aioipc.open_datagram(bind) as sock:
        print(f"{'localhost':<12} {0:>8} {time.ctime()}", flush=True)
        count = 0
        for host in hosts:
            count += 1
            address = aioipc.parse_address(host=host, port=port, default_scheme="udp")
            await sock.send(b"", address)
        while count:
            try:
                async with asyncio.timeout(timeout):
                    rtime, hispaddr = await sock.receive()
            except TimeoutError:
                break
            if len(rtime) != 4:
                print(f"ignored a {len(rtime)}-byte datagram from {hispaddr!r}", file=sys.stderr)
                continue
            assert isinstance(hispaddr, tuple)
            host, _ = await loop.getnameinfo(hispaddr[:2], socket.NI_DGRAM)
            since_1900: int
            (since_1900,) = struct.unpack("!I", rtime)
            histime = since_1900 - SECS_OF_70_YEARS
            print(f"{host:<12} {histime - int(time.time()):>8} {time.ctime(histime)}", flush=True)
            count -= 1
    if count:
        print(f"no answer from {count} of {len(hosts)} hosts within {timeout} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hosts", nargs="*", metavar="HOST")
    parser.add_argument("--port", default="time(37)", help="the servers' port (time(37))")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait (10)")
    parser.add_argument("--bind", default="udp://127.0.0.1:0", help="local address")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    program = main(options.hosts, options.port, options.timeout, options.bind)
    raise SystemExit(aioipc.run(program, loop=options.loop))
