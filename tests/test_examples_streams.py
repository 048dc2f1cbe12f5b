"""Run every program in examples/streams/ as a real subprocess, on both loops.

The examples need no input and no signals, so these tests are plain synchronous
functions: ``subprocess.run`` starts the example, waits for it (with a timeout) and
reaps it, and the test compares the whole output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "streams"
TIMEOUT = 20
LOOPS = ["asyncio", "uvloop"]


def run_example(name: str, loop: str) -> list[str]:
    """Run ``examples/streams/<name>.py --loop <loop>``; return its stdout's lines.

    The output must be exactly those lines, each ended by a newline, and stderr empty.
    """
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--loop", loop],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, (
        f"exit status {result.returncode}; stderr:\n{result.stderr}\nstdout:\n{result.stdout}"
    )
    assert result.stderr == "", f"the example wrote to stderr:\n{result.stderr}"
    lines = result.stdout.split("\n")
    assert lines.pop() == "", f"the output does not end with a newline: {result.stdout!r}"
    return lines


def test_every_example_is_tested() -> None:
    tested = {"line_dialogue", "pipe_to_child"}
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


@pytest.mark.parametrize("loop", LOOPS)
def test_line_dialogue(loop: str) -> None:
    assert run_example("line_dialogue", loop) == [
        f"running on {loop}",
        r"client: send_line() writes b'\r\n' on TCP",
        r"client: sent b'HELO perlipc\r\n'",
        "server: read 'HELO perlipc'",
        "client: got 'ECHO HELO perlipc' ending in CRLF",
        r"client: sent b'bare newline\n'",
        "server: read 'bare newline'",
        "client: got 'ECHO bare newline' ending in CRLF",
        r"client: sent b'split terminator\r' and then b'\n'",
        "server: read 'split terminator'",
        "client: got 'ECHO split terminator' ending in CRLF",
        "client: sent a line of 2000 bytes",
        "server: skipped a line of 2000 bytes",
        "client: got 'ERROR line too long' ending in CRLF",
        r"client: sent b'QUIT\r\n'",
        "server: read 'QUIT'",
        "client: got 'BYE' ending in CRLF",
        "client: the server closed the connection",
    ]


@pytest.mark.parametrize("loop", LOOPS)
def test_pipe_to_child(loop: str) -> None:
    assert run_example("pipe_to_child", loop) == [
        f"running on {loop}",
        "sent 7 lines to sort; it sent back:",
        "  FIFOs",
        "  daemons",
        "  pipes",
        "  ptys",
        "  semaphores",
        "  signals",
        "  sockets",
        "sort exited with status 0",
    ]
