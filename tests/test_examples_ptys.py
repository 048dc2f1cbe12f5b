"""Run every program in examples/ptys/ as a real subprocess, on both loops."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "ptys"
TIMEOUT = 20
LOOPS = ["asyncio", "uvloop"]


def run_example(name: str, loop: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--loop", loop, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def output_lines(result: subprocess.CompletedProcess[str], status: int = 0) -> list[str]:
    assert result.returncode == status, (
        f"exit status {result.returncode}; stderr:\n{result.stderr}\nstdout:\n{result.stdout}"
    )
    assert not result.stderr, f"the example wrote to stderr:\n{result.stderr}"
    return result.stdout.splitlines()


@pytest.mark.parametrize("loop", LOOPS)
def test_cat_n(loop: str) -> None:
    lines = output_lines(run_example("cat_n", loop))
    assert lines == [f"{i:6}\tline {i}" for i in range(1, 11)] + ["cat -n exited with status 0"]


@pytest.mark.parametrize("loop", LOOPS)
def test_cat_n_with_echo(loop: str) -> None:
    lines = output_lines(run_example("cat_n", loop, "--echo"))
    expected = []
    for i in range(1, 11):
        expected += [f"echo: line {i}", f"{i:6}\tline {i}"]
    assert lines == [*expected, "cat -n exited with status 0"]


@pytest.mark.parametrize("loop", LOOPS)
def test_password_dialogue(loop: str) -> None:
    assert output_lines(run_example("password_dialogue", loop)) == [
        "answered the login; the child asks for a password",
        "logged in as alice",
        "the child exited with status 0",
    ]


@pytest.mark.parametrize("loop", LOOPS)
def test_password_dialogue_wrong_password(loop: str) -> None:
    result = run_example("password_dialogue", loop, "--password", "guess")
    assert output_lines(result, status=1) == [
        "answered the login; the child asks for a password",
        "the child refused the password",
        "the child exited with status 1",
    ]
