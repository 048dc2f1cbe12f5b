"""perlipc's interactive client: stdin to the socket, the socket to stdout, like telnet.

perlipc ("Interactive Client with IO::Socket")::

    unless (@ARGV == 2) { die "usage: $0 host port" }
    ($host, $port) = @ARGV;
    $handle = IO::Socket::INET->new(Proto     => "tcp",
                                    PeerAddr  => $host,
                                    PeerPort  => $port)
           or die "can't connect to port $port on $host: $!";
    $handle->autoflush(1);              # so output gets there right away
    print STDERR "[Connected to $host:$port]\\n";
    die "can't fork: $!" unless defined($kidpid = fork());
    if ($kidpid) {
        # copy the socket to standard output
        while (defined ($line = <$handle>)) {
            print STDOUT $line;
        }
        kill("TERM", $kidpid);          # send SIGTERM to child
    }
    else {
        # copy standard input to the socket
        while (defined ($line = <STDIN>)) {
            print $handle $line;
        }
    }

perlipc forks because "it's easier to code two processes to do one thing than it is
to code one process to do two things".  With an event loop the two copiers are two
tasks in one process; ``kill("TERM", $kidpid)`` when the server hangs up becomes
cancelling the stdin task.  The socket is copied with ``receive()`` -- whatever has
arrived, at once -- which is perlipc's ``sysread`` variant, the one its command server
needs for a prompt that has no newline.  Lines typed are sent with ``send_line``,
which ends them with ``\\r\\n`` on TCP (be strict in what you send).  At the end of
stdin the client goes on printing what the server says until the server hangs up, as
perlipc's parent does after its child has exited.

stdin becomes a ``Stream``, which puts it in non-blocking mode; that flag is shared
with every process using the same terminal or pipe, so it is put back on the way out.
Try it against ``command_server.py``::

    python examples/sockets/interactive_client.py [--loop asyncio|uvloop] HOST PORT
"""

from __future__ import annotations

import argparse
import asyncio
import os
import stat
import sys

import anyio

import aioipc


async def socket_to_stdout(handle: aioipc.Stream) -> None:
    while True:
        try:
            data = await handle.receive()
        except anyio.EndOfStream:
            return
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


async def stdin_to_socket(handle: aioipc.Stream) -> None:
    if stat.S_ISREG(os.fstat(0).st_mode):
        # A regular file is always "ready": the event loop cannot wait on it, and
        # reading it never blocks for long.
        for line in sys.stdin.buffer.read().splitlines():
            await handle.send_line(line)
        return
    was_blocking = os.get_blocking(0)
    try:
        async with await aioipc.Stream.from_fd(os.dup(0), "r") as stdin:
            async for line in stdin.lines():
                await handle.send_line(line)
    finally:
        os.set_blocking(0, was_blocking)


async def main(host: str, port: str) -> int:
    try:
        handle = await aioipc.connect(host=host, port=port)
    except (OSError, ValueError) as exc:
        print(f"can't connect to port {port} on {host}: {exc}", file=sys.stderr)
        return 1
    async with handle:
        print(f"[Connected to {host}:{port}]", file=sys.stderr, flush=True)
        async with asyncio.TaskGroup() as tasks:
            kid = tasks.create_task(stdin_to_socket(handle))
            await socket_to_stdout(handle)
            kid.cancel()  # kill("TERM", $kidpid)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host")
    parser.add_argument("port")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    try:
        raise SystemExit(aioipc.run(main(options.host, options.port), loop=options.loop))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
