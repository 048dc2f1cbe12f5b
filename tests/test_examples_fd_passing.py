"""Run examples/sockets/fd_handoff.py as a real subprocess, on both loops, with real clients.

The example prints the port it listens on; the test connects TCP clients to it, talks
to each (the answer names the worker process that got the connection), and then
checks the whole output once the example has handed over every connection and exited.
"""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO, BinaryIO

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sockets" / "fd_handoff.py"
TIMEOUT = 20
LOOPS = ["asyncio", "uvloop"]


def read_line(stream: IO[str], timeout: float = TIMEOUT) -> str:
    """One line from a child's stdout, failing instead of hanging if none comes."""
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, f"no output within {timeout} s"
    return stream.readline()


def ask(client: socket.socket, reader: BinaryIO, line: str) -> str:
    client.sendall(line.encode() + b"\n")
    answer = reader.readline()
    assert answer.endswith(b"\r\n"), f"not a CRLF line from a TCP stream: {answer!r}"
    return answer[:-2].decode()


@pytest.mark.parametrize("loop", LOOPS)
def test_fd_handoff(loop: str) -> None:
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--loop", loop, "--workers", "2", "--connections", "4"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    clients: list[tuple[socket.socket, BinaryIO]] = []
    try:
        assert process.stdout is not None
        match = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", read_line(process.stdout))
        assert match, "the example did not say where it listens"
        port = int(match.group(1))
        worker_of = []
        for number in range(4):
            client = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            reader: BinaryIO = client.makefile("rb")
            clients.append((client, reader))
            answer = ask(client, reader, f"hello {number}")
            found = re.fullmatch(rf"worker (\d+): hello {number}", answer)
            assert found, answer
            worker_of.append(int(found.group(1)))
        # Every client still has its own worker, each serving two clients at once.
        for number, (client, reader) in enumerate(clients):
            assert ask(client, reader, f"again {number}") == (
                f"worker {worker_of[number]}: again {number}"
            )
        for client, reader in clients:
            reader.close()
            client.close()
        clients.clear()
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        for client, reader in clients:
            reader.close()
            client.close()
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, f"exit status {process.returncode}; stderr:\n{err}"
    assert err == ""
    first, second = worker_of[0], worker_of[1]
    assert first != second, "both connections went to one worker"
    assert process.pid not in (first, second)
    assert os.getpid() not in (first, second)
    assert worker_of == [first, second, first, second], "round-robin was not kept"
    assert out.split("\n") == [
        *(f"connection {n + 1} went to worker {pid}" for n, pid in enumerate(worker_of)),
        "all 2 workers exited with status 0",
        "",
    ]
