"""Hand accepted TCP connections to worker processes by passing their fds.

perlipc's forking server forks a child per connection.  Here the children are forked
once, up front, and the parent -- which only accepts -- passes each connected socket
to a worker over a socketpair (``SCM_RIGHTS``, with :meth:`aioipc.Stream.send_fds`),
round-robin.  The worker turns the fd back into a socket and serves it: it answers
every line with ``worker <pid>: <line>``.  After the parent's copy is closed, only
the worker holds the connection, so a client talks to that worker alone.

The parent prints ``listening on 127.0.0.1:<port>`` (port 0: the kernel picks one),
hands over ``--connections`` connections (0: serve until interrupted), closes the
workers' channels so they finish their clients and exit, and prints which worker got
which connection::

    python examples/sockets/fd_handoff.py [--workers 2] [--connections 4] [--loop asyncio|uvloop]

Try it with ``nc 127.0.0.1 <port>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket

import anyio

import aioipc


async def serve_client(sock: socket.socket) -> None:
    """Answer each line from one client with this worker's pid, until the client stops."""
    async with await aioipc.Stream.from_socket(sock) as client:
        async for line in client.lines():
            with contextlib.suppress(aioipc.BrokenPipe):
                await client.send_line(f"worker {os.getpid()}: {line.decode()}")


async def worker(channel: aioipc.Stream) -> None:
    """Take connections from the parent, one fd per message, and serve them all at once."""
    async with asyncio.TaskGroup() as clients:
        while True:
            try:
                _, fds = await channel.receive_fds(1, 1)
            except anyio.EndOfStream:
                break  # no more connections: finish the ones we have
            for fd in fds:
                clients.create_task(serve_client(socket.socket(fileno=fd)))


async def main(workers: int, connections: int) -> int:
    async with contextlib.AsyncExitStack() as stack:
        kids = [
            await stack.enter_async_context(aioipc.open_fork(worker, channel=True, check=True))
            for _ in range(workers)
        ]
        listener = stack.enter_context(socket.create_server(("127.0.0.1", 0)))
        listener.setblocking(False)
        host, port = listener.getsockname()
        print(f"listening on {host}:{port}", flush=True)
        loop = asyncio.get_running_loop()
        handed = 0
        while connections == 0 or handed < connections:
            connection, _ = await loop.sock_accept(listener)
            kid = kids[handed % workers]
            assert kid.channel is not None
            with connection:  # the worker has its own copy once send_fds returns
                await kid.channel.send_fds(b"C", [connection])
            handed += 1
            print(f"connection {handed} went to worker {kid.pid}", flush=True)
        for kid in kids:
            assert kid.channel is not None
            await kid.channel.send_eof()
    print(f"all {workers} workers exited with status 0", flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=0, help="0: until interrupted")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    raise SystemExit(aioipc.run(main(options.workers, options.connections), loop=options.loop))
