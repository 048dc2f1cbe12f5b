"""Run examples/fifos/signature.py as a real subprocess, on both loops, and read it.

The readers are ``cat``, which blocks in ``open()`` like the mailers perlipc has in
mind.  Every process is started with a timeout and reaped, killed first if need be.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


def wait_for_fifo(path: Path) -> None:
    """Wait (bounded) for the server to recreate the FIFO it serves."""
    deadline = time.monotonic() + TIMEOUT
    while not aioipc.is_fifo(path):
        assert time.monotonic() < deadline, f"{path} was not recreated"
        time.sleep(0.01)


@pytest.mark.parametrize("loop", LOOPS)
def test_signature_serves_one_message_per_reader(tmp_path: Path, loop: str) -> None:
    path = tmp_path / ".signature"
    count = 4
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLE), str(path), "--count", str(count), "--loop", loop],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline() == f"serving {path} on {loop}\n"
        assert aioipc.is_fifo(path)
        messages = [read_fifo(path) for _ in range(2)]
        # Someone removes the FIFO while the server waits for its next reader.
        os.unlink(path)
        wait_for_fifo(path)
        messages += [read_fifo(path) for _ in range(count - 2)]
        output, errors = server.communicate(timeout=TIMEOUT)
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
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLE), str(path), "--count", "1", "--loop", loop],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline() == f"{path} was replaced: recreating it\n"
        assert server.stdout.readline().startswith("serving ")
        assert read_fifo(path)[0] == SIGNATURE
        output, errors = server.communicate(timeout=TIMEOUT)
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()
    assert server.returncode == 0, f"stderr:\n{errors}"
    assert output.splitlines() == ["served 1 readers"]
