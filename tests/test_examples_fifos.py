"""Run examples/fifos/signature.py as a real subprocess, on both loops, and read it.

The readers are ``cat``, which blocks in ``open()`` like the mailers perlipc has in
mind.  Every process is started with a timeout and reaped, killed first if need be.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

import aioipc

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fifos" / "signature.py"
TIMEOUT = 20
LOOPS = ["asyncio", "uvloop"]
SIGNATURE = "John Smith (smith@host.org)"


def read_fifo(path: Path) -> list[str]:
    result = subprocess.run(
        ["cat", str(path)], capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    return result.stdout.splitlines()


def start(path: Path, count: int, loop: str) -> subprocess.Popen[bytes]:
    # Unbuffered: select() on the pipe then sees every line next_line() has not read.
    return subprocess.Popen(
        [sys.executable, str(EXAMPLE), str(path), "--count", str(count), "--loop", loop],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )


def next_line(server: subprocess.Popen[bytes]) -> str:
    """The server's next line of output, failing instead of hanging."""
    assert server.stdout is not None
    ready, _, _ = select.select([server.stdout], [], [], TIMEOUT)
    assert ready, "the server said nothing"
    return server.stdout.readline().decode()


def finish(server: subprocess.Popen[bytes]) -> tuple[str, str]:
    """Wait for the server to exit by itself; its remaining stdout and its stderr."""
    output, errors = server.communicate(timeout=TIMEOUT)
    return output.decode(), errors.decode()


@pytest.mark.parametrize("loop", LOOPS)
def test_signature_serves_one_message_per_reader(tmp_path: Path, loop: str) -> None:
    path = tmp_path / ".signature"
    count = 4
    server = start(path, count, loop)
    try:
        assert next_line(server) == f"serving {path} on {loop}\n"
        assert aioipc.is_fifo(path)
        messages = [read_fifo(path) for _ in range(2)]
        # Someone removes the FIFO while the server waits for its next reader; the
        # server says so once the new one is in place.
        os.unlink(path)
        assert next_line(server) == f"{path} was removed: recreated it\n"
        assert aioipc.is_fifo(path)
        messages += [read_fifo(path) for _ in range(count - 2)]
        output, errors = finish(server)
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()
    assert server.returncode == 0, f"stderr:\n{errors}"
    assert errors == ""
    assert all(len(lines) == 2 and lines[0] == SIGNATURE for lines in messages), messages
    fortunes = [lines[1] for lines in messages]
    assert len(set(fortunes)) == count, "a reader got a signature twice or none"
    assert output.splitlines()[-1] == f"served {count} readers"
    assert not path.exists()  # --count removes the FIFO at the end
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("loop", LOOPS)
def test_signature_recreates_a_fifo_replaced_by_a_file(tmp_path: Path, loop: str) -> None:
    path = tmp_path / ".signature"
    path.write_text("not a FIFO\n")
    server = start(path, 1, loop)
    try:
        assert next_line(server) == f"{path} was replaced: recreated it\n"
        assert next_line(server).startswith("serving ")
        assert read_fifo(path)[0] == SIGNATURE
        output, errors = finish(server)
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()
    assert server.returncode == 0, f"stderr:\n{errors}"
    assert output.splitlines() == ["served 1 readers"]


@pytest.mark.parametrize("loop", LOOPS)
def test_signature_recreates_a_fifo_replaced_by_a_file_while_it_runs(
    tmp_path: Path, loop: str
) -> None:
    path = tmp_path / ".signature"
    server = start(path, 2, loop)
    try:
        assert next_line(server) == f"serving {path} on {loop}\n"
        first = read_fifo(path)
        # The reader has its EOF, so the server has put a fresh FIFO in place and is
        # going back to wait for the next reader.  A regular file takes the FIFO's
        # place at once (renamed over it, as an editor saves a file).
        replacement = tmp_path / "replacement"
        replacement.write_text("a plain signature file\n")
        os.replace(replacement, path)
        assert next_line(server) == f"{path} was replaced: recreated it\n"
        assert aioipc.is_fifo(path)
        second = read_fifo(path)
        output, errors = finish(server)
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()
    assert server.returncode == 0, f"stderr:\n{errors}"
    assert errors == ""
    assert first[0] == second[0] == SIGNATURE
    assert first[1] != second[1]
    assert output.splitlines() == ["served 2 readers"]
    assert os.listdir(tmp_path) == []
