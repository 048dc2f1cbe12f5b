"""A prefork echo server that drains on SIGTERM: every core busy, nothing cut short.

perlipc's forking server makes a process per connection.  With an event loop a
process serves many connections at once, so the way to use every core is a few
long-lived workers that share the listening socket::

    python examples/servers/prefork_echo.py [--loop asyncio|uvloop] [--workers N] [ADDRESS]

It prints ``READY <address> <worker pids>`` once every worker accepts.  Each client
gets ``worker <pid>``, then its lines back.  ``kill -TERM`` the server: the workers
stop accepting, finish the connections they have (up to 10 s), and the server exits 0.
A worker that dies meanwhile -- ``kill -KILL`` one -- is replaced.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

import aioipc


async def echo(stream: aioipc.Stream) -> None:
    await stream.send_line(f"worker {os.getpid()}")
    async for line in stream.lines():
        await stream.send_line(line)


async def main(address: str, workers: int | None) -> int:
    async with aioipc.serve_prefork(echo, address, workers=workers) as server:
        # Subscribe to SIGTERM before saying READY: whoever reads READY may send it at once.
        async with aioipc.open_signal_stream(signal.SIGTERM) as signals:
            pids = " ".join(map(str, server.worker_pids))
            print(f"READY {server.addresses[0]} {pids}", flush=True)
            async for _ in signals:
                break
        print("SIGTERM: draining the workers", file=sys.stderr, flush=True)
        await server.close(drain_timeout=10)
    print("drained", flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address", nargs="?", default="tcp://127.0.0.1:0")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    sys.exit(aioipc.run(main(args.address, args.workers), loop=args.loop))
