"""Run every program in examples/processes/ as a real subprocess, on both loops.

The examples need no input and no signals, so these tests are plain synchronous
functions, as for the streams and forks examples: ``subprocess.run`` starts the example,
waits for it (with a timeout) and reaps it, and the test checks the output.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "processes"
TIMEOUT = 30
LOOPS = ["asyncio", "uvloop"]


def run_example(name: str, loop: str, *args: str, status: int = 0) -> list[str]:
    """Run ``examples/processes/<name>.py --loop <loop> ARGS``; return its stdout's lines.

    The exit status must be ``status``, stderr empty, and stdout end with a newline.
    """
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--loop", loop, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == status, (
        f"exit status {result.returncode}; stderr:\n{result.stderr}\nstdout:\n{result.stdout}"
    )
    assert result.stderr == "", f"the example wrote to stderr:\n{result.stderr}"
    lines = result.stdout.split("\n")
    assert lines.pop() == "", f"the output does not end with a newline: {result.stdout!r}"
    return lines


def test_every_example_is_tested() -> None:
    tested = {"open2_cat", "safe_pipes", "spooler", "status_reader"}
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


@pytest.mark.parametrize("loop", LOOPS)
def test_spooler(loop: str) -> None:
    # cat -v makes the bell and the escape visible: "stuff\n" + "bell ^G and escape ^[[0m\n"
    assert run_example("spooler", loop) == [
        "sent 29 bytes to cat -v | wc -c",
        "31",
        "spooled fine",
    ]


@pytest.mark.parametrize("loop", LOOPS)
def test_spooler_that_fails_is_named(loop: str) -> None:
    lines = run_example("spooler", loop, "--jam", status=1)
    assert lines[0] == "sent 29 bytes to cat -v | a jammed printer"
    assert re.fullmatch(
        r"bad spool: pipeline failed: stage 2 of 2, \['sh', '-c', .*\] \(pid \d+\), "
        r"exited with status 2",
        lines[1],
    )
    assert len(lines) == 2


@pytest.mark.parametrize("loop", LOOPS)
def test_status_reader(loop: str) -> None:
    lines = run_example("status_reader", loop)
    pid = int(lines[0].removeprefix("this is pid "))
    assert lines[1].split() == ["PID", "TTY", "TIME", "CMD"]
    mine = [line for line in lines[2:] if line.split()[0] == str(pid)]
    assert len(mine) == 1
    assert mine[0].split()[-1].startswith("python")
    assert not any(line.split()[-1] == "ps" for line in lines[2:])  # filtered out


@pytest.mark.parametrize("loop", LOOPS)
def test_status_reader_reports_a_failing_command(loop: str) -> None:
    lines = run_example("status_reader", loop, "--bad", status=1)
    assert any("unknown" in line for line in lines[1:-1])  # ps's complaint, via 2>&1
    assert re.fullmatch(
        r"bad ps: command \['ps', '--no-such-option'\] \(pid \d+\) exited with status 1",
        lines[-1],
    )


@pytest.mark.parametrize("loop", LOOPS)
def test_safe_pipes(loop: str) -> None:
    lines = run_example("safe_pipes", loop)
    assert lines[:3] == [
        "ls: notes; echo INJECTED $(id -u) `date` > |tmp|x",
        "TR: NOTES; ECHO INJECTED $(ID -U) `DATE` > /TMP/X",
        "can't start bogus-command-for-perlipc: No such file or directory",
    ]
    assert re.fullmatch(
        r"whoops, pipe broke: cannot write to command \['sh', '-c', 'exit 3'\] "
        r"\(pid \d+\): it exited with status 3",
        lines[3],
    )
    assert len(lines) == 4


@pytest.mark.parametrize("loop", LOOPS)
def test_open2_cat(loop: str) -> None:
    assert run_example("open2_cat", loop, "--lines", "50000") == [
        "got back '     1\\tstuff'",
        "got back '     2\\tmore stuff'",
        "got back '     3\\tthe end'",
        "cat -u -n exited with status 0",
        "sent 538894 bytes, got 888894 bytes in 50000 lines",
        "last: ' 50000\\tline 50000'",
    ]
