"""Run examples/locks/flock_timeout.py as a real subprocess, on both loops.

The competitor is tests/lock_holder_program.py, which blocks in a plain ``flock``,
prints ``READY`` once it holds the lock, and on ``release`` writes ``released by PID``
into the file before unlocking.  Every process is started with a timeout and reaped.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "locks" / "flock_timeout.py"
HOLDER = HERE / "lock_holder_program.py"
TIMEOUT = 20
LOOPS = ["asyncio", "uvloop"]


def example(path: Path, loop: str, *args: str) -> list[str]:
    return [sys.executable, str(EXAMPLE), str(path), "--loop", loop, *args]


def finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Wait for ``proc`` (killing it after TIMEOUT) and return its stdout and stderr."""
    try:
        return proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A process holding an exclusive lock on tmp_path/lock (until stdin ends)."""
    proc = subprocess.Popen(
        [sys.executable, str(HOLDER), str(tmp_path / "lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "READY\n"
        yield proc
    finally:
        finish(proc)


def release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    assert holder.stdout is not None
    holder.stdin.write("release\n")
    holder.stdin.flush()
    assert holder.stdout.readline() == "RELEASED\n"


@pytest.mark.parametrize("loop", LOOPS)
def test_a_free_lock_is_taken_at_once(tmp_path: Path, loop: str) -> None:
    path = tmp_path / "lock"
    result = subprocess.run(
        example(path, loop), capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        f"READY: waiting up to 10 s for an exclusive lock on {path}",
        f"locked {path}",
    ]
    assert path.read_text().startswith("locked by ")


@pytest.mark.parametrize("loop", LOOPS)
def test_a_held_lock_times_out_and_the_program_goes_on(
    tmp_path: Path, loop: str, holder: subprocess.Popen[str]
) -> None:
    path = tmp_path / "lock"
    result = subprocess.run(
        example(path, loop, "--seconds", "0.2"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    ready, timed_out = result.stdout.splitlines()
    assert ready == f"READY: waiting up to 0.2 s for an exclusive lock on {path}"
    assert re.fullmatch(
        rf"timed out: timed out after 0\.2 s waiting for an exclusive lock on fd \d+ "
        rf"\({re.escape(str(path))}\): another open file holds a conflicting lock",
        timed_out,
    ), timed_out
    assert path.read_text() == ""  # nothing was written without the lock


@pytest.mark.parametrize("loop", LOOPS)
def test_the_lock_is_taken_once_the_holder_releases_it(
    tmp_path: Path, loop: str, holder: subprocess.Popen[str]
) -> None:
    path = tmp_path / "lock"
    proc = subprocess.Popen(
        example(path, loop, "--seconds", str(TIMEOUT)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("READY: ")
        release(holder)
    finally:
        output, errors = finish(proc)
    assert proc.returncode == 0, errors
    assert errors == ""
    assert output == f"locked {path}\n"
    assert path.read_text() == f"released by {holder.pid}\nlocked by {proc.pid}\n"


@pytest.mark.parametrize("loop", LOOPS)
def test_shared_lockers_do_not_wait_for_each_other(tmp_path: Path, loop: str) -> None:
    path = tmp_path / "lock"
    holder = subprocess.Popen(
        [sys.executable, str(HOLDER), str(path), "--shared"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "READY\n"
        result = subprocess.run(
            example(path, loop, "--shared", "--seconds", str(TIMEOUT)),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        finish(holder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"locked {path}"


@pytest.mark.parametrize("loop", LOOPS)
def test_other_errors_end_the_program(tmp_path: Path, loop: str) -> None:
    path = tmp_path / "missing" / "lock"
    result = subprocess.run(
        example(path, loop), capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "FileNotFoundError" in result.stderr
    assert str(path) in result.stderr
