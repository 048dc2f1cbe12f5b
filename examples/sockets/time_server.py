"""A local time (RFC 868) and daytime (RFC 867) server, over TCP and UDP.

perlipc's clients ask the standard services at port 37 (``time``) and 13
(``daytime``), which few machines run today.  This server answers both, so that
``time_client.py``, ``daytime_client.py`` and ``udp_time_query.py`` have something to
talk to:

- **time**: the seconds since 1900-01-01 as a 32-bit big-endian number (what perlipc
  decodes with ``unpack("N", $rtime) - $SECS_of_70_YEARS``) -- on TCP sent to each
  client, which is then disconnected; on UDP sent back for each datagram received,
  whatever it holds.
- **daytime**: the local time as one line of text, ``Wed May 14 08:40:46 MDT 1997``
  as perlipc shows it, ending ``\\r\\n``.

One task per TCP listener (``aioipc.serve``, a task per connection) and one per UDP
socket (``aioipc.open_datagram``: ``async for data, addr in sock`` and
``sock.send(reply, addr)``) share one event loop.  The ports default to the standard
ones (which need root); ``--time-port 0 --daytime-port 0`` takes free ones.  With
port 0 the TCP and UDP sockets of one service get different ports, so it prints one
line per socket -- ``time tcp://127.0.0.1:40123`` -- then ``READY``.  SIGTERM or
Ctrl-C stops it (exit 0)::

    python examples/sockets/time_server.py [--loop asyncio|uvloop] [--host 127.0.0.1]
        [--time-port 'time(37)'] [--daytime-port 'daytime(13)'] [--no-udp]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import struct
import time
from collections.abc import Callable

import aioipc

SECS_OF_70_YEARS = 2208988800


def rfc868_time() -> bytes:
    """Now, in seconds since 1900, as four bytes (the count wraps in 2036)."""
    return struct.pack("!I", (int(time.time()) + SECS_OF_70_YEARS) & 0xFFFFFFFF)


def daytime() -> bytes:
    return time.strftime("%a %b %d %H:%M:%S %Z %Y\r\n").encode()


async def tcp_time(client: aioipc.Stream) -> None:
    await client.send(rfc868_time())


async def tcp_daytime(client: aioipc.Stream) -> None:
    await client.send(daytime())


async def udp_service(sock: aioipc.DatagramSocket, answer: Callable[[], bytes]) -> None:
    """Answer every datagram, whatever it holds, until the socket is closed."""
    async for _, addr in sock:
        await sock.send(answer(), addr)


async def main(host: str, time_port: str, daytime_port: str, udp: bool) -> int:
    services = [("time", time_port, tcp_time, rfc868_time)]
    services.append(("daytime", daytime_port, tcp_daytime, daytime))
    stop = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        sockets = []
        for name, port, handler, answer in services:
            address = aioipc.parse_address(host=host, port=port)
            server = await stack.enter_async_context(aioipc.serve(handler, address))
            for bound in server.addresses:
                print(name, bound, flush=True)
            if udp:
                address = aioipc.parse_address(host=host, port=port, default_scheme="udp")
                sock = await stack.enter_async_context(aioipc.open_datagram(address))
                print(name, sock.local_address, flush=True)
                sockets.append((sock, answer))
        async with asyncio.TaskGroup() as tasks:
            for sock, answer in sockets:
                tasks.create_task(udp_service(sock, answer))
            print("READY", flush=True)
            with aioipc.on_signal("TERM", lambda _: stop.set()):
                await stop.wait()
            for sock, _ in sockets:
                await sock.aclose()  # ends its udp_service loop
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--time-port", default="time(37)", help="port of the time service")
    parser.add_argument("--daytime-port", default="daytime(13)", help="port of daytime")
    parser.add_argument("--no-udp", dest="udp", action="store_false", help="TCP only")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    program = main(options.host, options.time_port, options.daytime_port, options.udp)
    try:
        raise SystemExit(aioipc.run(program, loop=options.loop))
    except KeyboardInterrupt:
        raise SystemExit(0) from None
