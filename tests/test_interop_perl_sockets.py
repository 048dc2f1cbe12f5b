"""perlipc's own Perl programs talk to aioipc, and aioipc to them, on both loops.

The Perl programs in tests/interop/perl/perlipc_*.pl are perlipc's, copied as they
are but for the few lines marked ``EDIT`` (ports, paths, an unbuffered log): the
Internet TCP client and server, the Unix-domain client and server, and the
``.signature`` FIFO writer.  They run under the system ``perl`` (the servers with
``-T``, as their ``#!`` line asks).  The Perl servers serve until killed, as in
perlipc, so each test ends its Perl server by its pid once the exchange is done.

Each pairing is tested twice: against aioipc's examples run as programs (the
``--loop`` parameter), and against the library in this process (the async tests run
on both loops by themselves).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import anyio
import pytest
from socket_programs import (
    LOOPS,
    PERL_PROGRAMS,
    TIMEOUT,
    Program,
    example,
    port_of,
    run_example,
    succeeded,
)

import aioipc

CTIME = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}"
HELLO = rf"Hello there, localhost, it's now {CTIME}"
UNIX_HELLO = rf"Hello there, it's now {CTIME}"
PERL_FORTUNE = "Your fortune: it works both ways."


def perl(name: str, *args: str, taint: bool = False) -> list[str]:
    return ["perl", *(["-T"] if taint else []), str(PERL_PROGRAMS / name), *args]


def start_perl_tcp_server() -> tuple[Program, int]:
    server = Program(perl("perlipc_tcp_server.pl", "0", taint=True))
    match = server.wait_for(rf"\S+ {server.pid}: server started on port (\d+) at {CTIME}")
    return server, int(match.group(1))


def start_perl_unix_server(path: Path) -> Program:
    server = Program(perl("perlipc_unix_server.pl", str(path), taint=True))
    server.wait_for(rf"\S+ {server.pid}: server started on {re.escape(str(path))} at .*")
    return server


# -- Internet TCP -----------------------------------------------------------------------


@pytest.mark.parametrize("loop", LOOPS)
def test_perl_tcp_client_to_the_tcp_server_example(loop: str) -> None:
    with Program(example("tcp_server", loop, "0")) as server:
        port = port_of(server.wait_for(r"READY (tcp://\S+)").group(1))
        result = subprocess.run(
            perl("perlipc_tcp_client.pl", "127.0.0.1", str(port)),
            capture_output=True,
            timeout=TIMEOUT,
            check=True,
        )
        assert server.stop() == 0
    # perlipc's client prints each line as it came: with the server's "\015\012".
    assert re.fullmatch(rf"{HELLO}\r\n".encode(), result.stdout), result.stdout
    assert result.stderr == b""


@pytest.mark.parametrize("loop", LOOPS)
def test_tcp_client_example_to_the_perl_tcp_server(loop: str) -> None:
    server, port = start_perl_tcp_server()
    with server:
        out = succeeded(run_example("tcp_client", loop, "localhost", str(port)))
        # The server's log line is written before it answers.
        server.wait_for(r"\S+ \d+: connection from localhost \[ 127\.0\.0\.1 \]")
        server.stop()  # it accepts forever, as in perlipc
    assert re.fullmatch(rf"{HELLO}\n", out), out


async def test_connect_to_the_perl_tcp_server() -> None:
    server, port = start_perl_tcp_server()
    with server:
        for host in ("127.0.0.1", "localhost"):
            async with aioipc.connect(host=host, port=port, timeout=TIMEOUT) as stream:
                line = await stream.readline()  # "\015\012" removed, as "\n" would be
                assert re.fullmatch(HELLO, line.decode()), line
                with pytest.raises(anyio.EndOfStream):
                    await stream.readline()
        server.stop()


async def test_perl_tcp_client_to_serve() -> None:
    async def greet(stream: aioipc.Stream) -> None:
        await stream.send_line("Hello from aioipc")
        await stream.send_line("and a second line")

    async with aioipc.serve(greet, "tcp://127.0.0.1:0") as server:
        port = server.addresses[0].port
        result = await aioipc.run_process(
            perl("perlipc_tcp_client.pl", "127.0.0.1", str(port)), timeout=TIMEOUT
        )
    assert result.stdout == b"Hello from aioipc\r\nand a second line\r\n"
    assert result.stderr == b""


# -- Unix-domain ------------------------------------------------------------------------


@pytest.mark.parametrize("loop", LOOPS)
def test_perl_unix_client_to_the_unix_server_example(loop: str, tmp_path: Path) -> None:
    with Program(example("unix_server", loop), cwd=tmp_path) as server:
        server.wait_for(r"READY unix:catsock")
        # perlipc's client with its default rendezvous, 'catsock', in the same directory.
        result = subprocess.run(
            perl("perlipc_unix_client.pl"),
            cwd=tmp_path,
            capture_output=True,
            timeout=TIMEOUT,
            check=True,
        )
        assert server.stop() == 0
    hello, cookie = result.stdout.decode().split("\n")[:-1]
    assert re.fullmatch(UNIX_HELLO, hello)
    assert cookie
    assert re.search(r"reaped child \d+", server.stdout)


@pytest.mark.parametrize("loop", LOOPS)
def test_unix_client_example_to_the_perl_unix_server(loop: str, tmp_path: Path) -> None:
    path = tmp_path / "catsock"
    with start_perl_unix_server(path) as server:
        out = succeeded(run_example("unix_client", loop, str(path)))
        # perlipc's REAPER logs the child it reaped: our client saw the child's EOF.
        child = server.wait_for(rf"\S+ {server.pid}: begat (\d+) at .*").group(1)
        server.wait_for(rf"\S+ {server.pid}: reaped {child} at .*")
        server.stop()
    assert out == f"{out.splitlines()[0]}\n{PERL_FORTUNE}\n"
    assert re.fullmatch(UNIX_HELLO, out.splitlines()[0])


async def test_connect_to_the_perl_unix_server(tmp_path: Path) -> None:
    path = tmp_path / "catsock"
    with start_perl_unix_server(path) as server:
        async with aioipc.connect(f"unix:{path}", timeout=TIMEOUT) as stream:
            lines = [line.decode() async for line in stream.lines()]
        server.stop()
    assert len(lines) == 2
    assert re.fullmatch(UNIX_HELLO, lines[0])
    assert lines[1] == PERL_FORTUNE


async def test_perl_unix_client_to_serve(tmp_path: Path) -> None:
    async def greet(stream: aioipc.Stream) -> None:
        credentials = stream.extra(aioipc.StreamAttribute.peer_credentials)
        await stream.send_line(f"Hello, pid {credentials.pid}")

    path = tmp_path / "catsock"
    async with (
        aioipc.serve(greet, f"unix:{path}"),
        aioipc.open_process(
            perl("perlipc_unix_client.pl", str(path)), stdout=aioipc.PIPE, check=True
        ) as client,
    ):
        assert client.stdout is not None
        out = b"".join([chunk async for chunk in client.stdout])
    assert out == f"Hello, pid {client.pid}\n".encode()


# -- Named pipes ------------------------------------------------------------------------


async def test_open_fifo_reads_the_perl_signature_writer(tmp_path: Path) -> None:
    fifo = tmp_path / ".signature"
    aioipc.mkfifo(fifo)  # there already: the writer's "unless (-p $FIFO)" leaves it
    async with aioipc.open_process(perl("perlipc_signature.pl", str(tmp_path))) as writer:
        # Perl's open(">") blocks until this reader comes; close() gives us EOF.
        async with aioipc.open_fifo(fifo, "r") as reader:
            signature = b"".join([chunk async for chunk in reader])
        writer.terminate()  # it loops forever, as in perlipc; its pid is ours to end
    assert signature.split(b"\n")[0] == b"John Smith (smith@host.org)"
