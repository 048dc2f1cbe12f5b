"""A line dialogue over TCP: perlipc's "Internet Line Terminators", the aioipc way.

perlipc ("Internet Line Terminators")::

    The standards specify writing "\\015\\012" to be conformant (be strict in what
    you provide), but they also recommend accepting a lone "\\012" on input (but be
    lenient in what you require).

:class:`aioipc.Stream` does both.  Every line helper accepts ``\\n`` or ``\\r\\n`` on
input (a lone ``\\r`` is data), and :meth:`~aioipc.Stream.send_line` writes ``\\r\\n``
on Internet sockets (``\\n`` on Unix sockets and pipes).  A line longer than the limit
raises :class:`aioipc.LineTooLong` and leaves its bytes buffered, so the server can skip
the line and carry on.

A tiny echo server accepts one connection on the loopback interface (a plain listening
socket and ``loop.sock_accept``); a client in the same process speaks to it in lockstep
and checks that every reply ends with ``\\r\\n``::

    python examples/streams/line_dialogue.py [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import socket

import anyio
import uvloop

import aioipc

#: The longest line the server accepts.
LIMIT = 1024


async def serve_one(listener: socket.socket) -> None:
    """Answer one client: ``ECHO <line>`` per line, ``BYE`` to ``QUIT``."""
    loop = asyncio.get_running_loop()
    conn, _ = await loop.sock_accept(listener)
    async with await aioipc.Stream.from_socket(conn) as stream:
        while True:
            try:
                line = await stream.readline(limit=LIMIT)
            except aioipc.LineTooLong:
                # Nothing was consumed: skip the long line, terminator included.
                skipped = await stream.receive_until(b"\n", 1024 * 1024)
                length = len(skipped.removesuffix(b"\r"))
                print(f"server: skipped a line of {length} bytes", flush=True)
                await stream.send_line("ERROR line too long")
                continue
            except anyio.EndOfStream:
                return
            text = line.decode()
            print(f"server: read {text!r}", flush=True)
            if text == "QUIT":
                await stream.send_line("BYE")
                return
            await stream.send_line(f"ECHO {text}")


async def client(address: tuple[str, int]) -> None:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    async with await aioipc.Stream.from_socket(sock) as stream:
        print(f"client: send_line() writes {stream.eol!r} on TCP", flush=True)

        async def expect_reply() -> None:
            # receive_until(b"\r\n") would fail on a reply ended by a bare b"\n".
            reply = await stream.receive_until(b"\r\n", LIMIT)
            print(f"client: got {reply.decode()!r} ending in CRLF", flush=True)

        await stream.send_line("HELO perlipc")  # strict: b"HELO perlipc\r\n"
        print("client: sent b'HELO perlipc\\r\\n'", flush=True)
        await expect_reply()

        await stream.send(b"bare newline\n")  # the server is lenient
        print("client: sent b'bare newline\\n'", flush=True)
        await expect_reply()

        await stream.send(b"split terminator\r")  # the terminator may arrive in pieces
        await stream.send(b"\n")
        print("client: sent b'split terminator\\r' and then b'\\n'", flush=True)
        await expect_reply()

        await stream.send(b"x" * 2000 + b"\r\n")
        print("client: sent a line of 2000 bytes", flush=True)
        await expect_reply()

        await stream.send_line("QUIT")
        print("client: sent b'QUIT\\r\\n'", flush=True)
        await expect_reply()
        try:
            extra = await stream.receive()
        except anyio.EndOfStream:
            print("client: the server closed the connection", flush=True)
        else:
            print(f"client: unexpected data after BYE: {extra!r}", flush=True)


async def main() -> None:
    kind = "uvloop" if isinstance(asyncio.get_running_loop(), uvloop.Loop) else "asyncio"
    print(f"running on {kind}", flush=True)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.setblocking(False)  # loop.sock_accept() needs a non-blocking socket
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(serve_one(listener))
            tasks.create_task(client(listener.getsockname()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args()
    aioipc.run(main(), loop=args.loop)
