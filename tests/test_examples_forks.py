"""Run every program in examples/forks/ as a real subprocess, on both loops.

The examples need no input and no signals: ``subprocess.run`` starts each one, waits for
it (with a timeout) and reaps it, and the test checks the whole output.  The background
job of ``background.py`` is not our child; the test waits for it through a pidfd.
"""

from __future__ import annotations

import os
import pwd
import re
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "forks"
TIMEOUT = 20
LOOPS = ["asyncio", "uvloop"]
NOBODY = 65534


def run_example(
    name: str, loop: str, *args: str, merge_stderr: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``examples/forks/<name>.py --loop <loop> ARGS``; stderr kept apart unless merged."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--loop", loop, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, (
        f"exit status {result.returncode}; stderr:\n{result.stderr}\nstdout:\n{result.stdout}"
    )
    assert not result.stderr, f"the example wrote to stderr:\n{result.stderr}"
    lines = result.stdout.split("\n")
    assert lines.pop() == "", f"the output does not end with a newline: {result.stdout!r}"
    return lines


def wait_gone(pid: int) -> None:
    """Wait until ``pid`` (not our child) has exited, through a pidfd."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        assert poller.poll(TIMEOUT * 1000), f"pid {pid} still runs after {TIMEOUT} s"
    finally:
        os.close(pidfd)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory anybody may write to (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="aioipc-forks-"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def test_every_example_is_tested() -> None:
    tested = {"background", "pipe1", "pipe2", "safe_pipe_write", "safe_pipe_read", "pipe_deadlock"}
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


@pytest.mark.parametrize("loop", LOOPS)
def test_pipe1(loop: str) -> None:
    # The child writes its diary line on stderr (its stdout is the pipe): merged here,
    # it comes first, because the child writes it before it answers.
    result = run_example("pipe1", loop, merge_stderr=True)
    child, parent = succeeded(result)
    match = re.fullmatch(
        r"Child Pid (\d+) just read this: `Parent Pid (\d+) is sending this'", child
    )
    assert match is not None, child
    child_pid, parent_pid = match.groups()
    assert (
        parent
        == f"Parent Pid {parent_pid} just read this: `Child Pid {child_pid} is sending this'"
    )
    assert child_pid != parent_pid


@pytest.mark.parametrize("loop", LOOPS)
def test_pipe2(loop: str) -> None:
    child, parent = succeeded(run_example("pipe2", loop))
    match = re.fullmatch(
        r"Child Pid (\d+) just read this: `Parent Pid (\d+) is sending this'", child
    )
    assert match is not None, child
    child_pid, parent_pid = match.groups()
    assert (
        parent
        == f"Parent Pid {parent_pid} just read this: `Child Pid {child_pid} is sending this'"
    )
    assert child_pid != parent_pid


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to nobody needs root")
@pytest.mark.parametrize("loop", LOOPS)
def test_safe_pipe_write_as_nobody(loop: str, open_dir: Path) -> None:
    target = open_dir / "safe-file"
    (line,) = succeeded(run_example("safe_pipe_write", loop, str(target)))
    assert re.fullmatch(rf"kid \(pid \d+\) wrote 3 lines to {target} as uid {NOBODY}", line)
    assert target.read_text() == "first line of some data\nsecond line\nthird and last\n"
    assert target.stat().st_uid == NOBODY


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to nobody needs root")
@pytest.mark.parametrize("loop", LOOPS)
def test_safe_pipe_write_refused_to_nobody(loop: str, tmp_path: Path) -> None:
    # tmp_path is root's alone: the kid, as nobody, may not create the file there.
    target = tmp_path / "safe-file"
    result = run_example("safe_pipe_write", loop, str(target))
    assert result.returncode == 1
    assert result.stdout == "kid failed: it exited with status 1\n"
    assert result.stderr.startswith("Traceback (most recent call last):\n")
    assert f"PermissionError: [Errno 13] Permission denied: '{target}'" in result.stderr
    assert not target.exists()


@pytest.mark.parametrize("loop", LOOPS)
def test_safe_pipe_read(loop: str) -> None:
    # As root the kid drops to nobody, reads the public file and cannot open the 0600
    # one (status 1, its complaint read from its stderr pipe); as anybody else there is
    # no drop and the kid reads both, its own files.
    lines = succeeded(run_example("safe_pipe_read", loop))
    if os.geteuid() == 0:
        header = "running as root: the kid drops to nobody"
        uid = pwd.getpwnam("nobody").pw_uid
        secret = [
            "  the kid said: can't open secret.txt: Permission denied",
            "secret.txt: warning: the kid exited with status 1",
        ]
    else:
        uid = os.getuid()
        header = f"not running as root: no privilege drop, the kid keeps uid {uid}"
        secret = ["  read: the secret", "secret.txt: the kid exited with status 0"]
    assert lines == [
        header,
        f"public.txt: the kid runs as uid {uid}",
        "  read: first line of the public file",
        "  read: second line",
        "  read: third and last",
        "public.txt: the kid exited with status 0",
        f"secret.txt: the kid runs as uid {uid}",
        *secret,
    ]


@pytest.mark.parametrize("loop", LOOPS)
def test_pipe_deadlock(loop: str) -> None:
    # The first kid sees EOF while the second still runs: the second never held the
    # first kid's pipe.  The children print on the shared stdout, one after the other.
    assert succeeded(run_example("pipe_deadlock", loop)) == [
        "first kid got ['one', 'two', 'three'] and then EOF",
        "second kid holds the first kid's pipe: no",
        "second kid got ['alpha', 'beta'] and then EOF",
        "first kid exited with status 0",
        "second kid exited with status 0",
    ]


@pytest.mark.parametrize("loop", LOOPS)
def test_background(loop: str, tmp_path: Path) -> None:
    output = tmp_path / "job.out"
    started, nothing = succeeded(run_example("background", loop, "--output", str(output)))
    match = re.fullmatch(r"started 'echo' in the background as pid (\d+)", started)
    assert match is not None, started
    assert nothing == "nothing to reap: it is not our child"
    wait_gone(int(match.group(1)))
    assert output.read_text() == "the background job ran\n"


@pytest.mark.parametrize("loop", LOOPS)
def test_background_missing_command(loop: str, tmp_path: Path) -> None:
    result = run_example(
        "background", loop, "--output", str(tmp_path / "out"), "no-such-command-here"
    )
    assert result.returncode == 1
    assert result.stdout == (
        "cannot start 'no-such-command-here': spawn_detached(): could not run the program: "
        "No such file or directory\n"
    )
