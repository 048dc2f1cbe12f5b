"""Run every program in examples/sysv/ as a real subprocess on both loops, beside
perlipc's own Perl programs (tests/interop/perl/perlipc_sysv_*.pl).

* ``shm.py`` prints what the Perl program prints (byte for byte, the ids aside).
* ``take.py``/``give.py`` and Perl's ``take``/``give`` share one semaphore, whose key
  comes from ``key_from_path`` on a file under tmp_path.  A second ``take`` must wait
  until a ``give`` runs: it cannot get through while the value is 1, and the test sees
  it waiting (its ``waiting`` line, or for Perl, the kernel's count of processes
  waiting for zero) before running ``give``.

The semaphore is inspected and removed with ``sysv_ipc`` directly, independently of the
code under test; the fixture removes it even when a test fails.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sysv_ipc

from aioipc.sysv import key_from_path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples" / "sysv"
PERL = HERE / "interop" / "perl"
TIMEOUT = 20
LOOPS = ["asyncio", "uvloop"]


def example(name: str, loop: str, *args: str) -> list[str]:
    return [sys.executable, str(EXAMPLES / f"{name}.py"), "--loop", loop, *args]


def perl(name: str, *args: str) -> list[str]:
    return ["perl", str(PERL / f"perlipc_sysv_{name}.pl"), *args]


def run(argv: list[str]) -> bytes:
    """Run a program to its end; it must succeed and write nothing to stderr."""
    result = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT, check=False
    )
    assert result.returncode == 0, (
        f"{argv} exited with {result.returncode}; stderr:\n{result.stderr.decode()}"
    )
    assert result.stderr == b"", result.stderr.decode()
    return result.stdout


def start(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Wait for ``proc`` (killing it after TIMEOUT) and return its stdout and stderr."""
    try:
        return proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def value(key: int) -> int:
    return int(sysv_ipc.Semaphore(key).value)


def wait_for_zero_waiter(key: int) -> None:
    """Wait (bounded) until a process is blocked in semop waiting for zero."""
    deadline = time.monotonic() + TIMEOUT
    while sysv_ipc.Semaphore(key).waiting_for_zero < 1:
        assert time.monotonic() < deadline, "nobody waits for the semaphore to be zero"
        time.sleep(0.01)


@pytest.fixture
def sem_key(tmp_path: Path) -> Iterator[int]:
    """A key (from key_from_path on a new file) that no semaphore uses; its semaphore,
    if a test made one, is removed afterwards."""
    anchor = tmp_path / "semaphore.key"
    anchor.touch()
    for project_id in range(1, 256):
        key = key_from_path(anchor, project_id)
        try:
            sysv_ipc.Semaphore(key)
        except sysv_ipc.ExistentialError:
            break
    else:
        pytest.fail(f"every key of {anchor} is taken by another semaphore")
    try:
        yield key
    finally:
        with contextlib.suppress(sysv_ipc.ExistentialError):
            sysv_ipc.Semaphore(key).remove()


def test_every_example_is_tested() -> None:
    tested = {"shm", "setup", "take", "give", "msg"}
    assert {path.stem for path in EXAMPLES.glob("*.py")} == tested


@pytest.mark.parametrize("loop", LOOPS)
def test_message_queue_round_trip_prints_okay_like_perl(loop: str) -> None:
    assert run(example("msg", loop)) == b"okay\n"
    assert run(perl("msg")) == b"okay\n"


# Shared memory: the same output as perlipc's program


def _without_ids(output: bytes) -> bytes:
    return re.sub(rb"(shm key|deleting shm) \d+\n", rb"\1 ID\n", output)


@pytest.mark.parametrize("loop", LOOPS)
def test_shm_prints_what_perl_prints(loop: str) -> None:
    ours = run(example("shm", loop))
    theirs = run(perl("shm"))
    assert _without_ids(ours) == _without_ids(theirs)
    padded = b"Message #1" + b"\0" * 50
    assert _without_ids(ours) == (
        b"shm key ID\nwrote: 'Message #1'\nread : '" + padded + b"'\nswell\ndeleting shm ID\n"
    )
    first, *_, last = ours.splitlines()
    assert first.split()[-1] == last.split()[-1]  # the id it made is the id it removed


# take and give


@pytest.mark.parametrize("loop", LOOPS)
def test_take_continues_only_after_give(loop: str, sem_key: int) -> None:
    key = str(sem_key)
    setup = run(example("setup", loop, key)).decode()
    assert re.fullmatch(rf"sem key {sem_key:#010x} id \d+ value 0\n", setup)
    semaphore_id = setup.split()[4]
    # The first take gets through at once.
    assert run(example("take", loop, key)).decode().splitlines() == [
        f"waiting for semaphore {semaphore_id} to be zero",
        f"took semaphore {semaphore_id}",
    ]
    assert value(sem_key) == 1
    # The second one waits for a give.
    second = start(example("take", loop, key))
    try:
        assert second.stdout is not None
        assert second.stdout.readline() == f"waiting for semaphore {semaphore_id} to be zero\n"
        assert value(sem_key) == 1
        assert second.poll() is None
        assert run(example("give", loop, key)) == f"gave semaphore {semaphore_id}\n".encode()
    finally:
        output, errors = finish(second)
    assert second.returncode == 0, errors
    assert output == f"took semaphore {semaphore_id}\n"
    assert value(sem_key) == 1  # taken again: 0 by give, 1 by the second take
    # A give with nothing to give waits as well: this one has something.
    run(example("give", loop, key))
    assert value(sem_key) == 0


@pytest.mark.parametrize("loop", LOOPS)
def test_path_keys_and_removal(loop: str, tmp_path: Path) -> None:
    anchor = tmp_path / "anchor"
    anchor.touch()
    key = key_from_path(anchor, 1)
    try:
        setup = run(example("setup", loop, "--path", str(anchor))).decode()
        assert setup.startswith(f"sem key {key:#010x} id ")
        assert value(key) == 0
        take = run(example("take", loop, "--path", str(anchor))).decode()
        assert take.endswith("took semaphore " + setup.split()[4] + "\n")
        assert value(key) == 1
        removed = run(example("setup", loop, "--path", str(anchor), "--remove"))
        assert removed == f"removed the semaphore with key {key:#010x}\n".encode()
        with pytest.raises(sysv_ipc.ExistentialError):
            sysv_ipc.Semaphore(key)
    finally:
        with contextlib.suppress(sysv_ipc.ExistentialError):
            sysv_ipc.Semaphore(key).remove()


@pytest.mark.parametrize("loop", LOOPS)
def test_take_without_a_semaphore_names_the_key(loop: str, sem_key: int) -> None:
    result = subprocess.run(
        example("take", loop, str(sem_key)),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    last = result.stderr.splitlines()[-1]
    assert last.startswith("FileNotFoundError: ")
    assert f"{sem_key:#010x}" in last  # the key as ipcs shows it


# Interop with perlipc's Perl take and give


@pytest.mark.parametrize("loop", LOOPS)
def test_perl_take_continues_after_aioipc_give(loop: str, sem_key: int) -> None:
    key = str(sem_key)
    assert run(perl("setup", key)).startswith(b"shm key ")  # perlipc's set of 10
    run(perl("take", key))
    assert value(sem_key) == 1
    second = start(perl("take", key))
    try:
        wait_for_zero_waiter(sem_key)  # blocked in its semop
        assert value(sem_key) == 1
        assert run(example("give", loop, key)).startswith(b"gave semaphore ")
    finally:
        output, errors = finish(second)
    assert second.returncode == 0, errors
    assert output == ""
    assert value(sem_key) == 1


@pytest.mark.parametrize("loop", LOOPS)
def test_aioipc_take_continues_after_perl_give(loop: str, sem_key: int) -> None:
    key = str(sem_key)
    run(example("setup", loop, key))
    run(example("take", loop, key))
    assert value(sem_key) == 1
    second = start(example("take", loop, key))
    try:
        assert second.stdout is not None
        assert second.stdout.readline().startswith("waiting for semaphore ")
        assert value(sem_key) == 1
        assert second.poll() is None
        assert run(perl("give", key)) == b""
    finally:
        output, errors = finish(second)
    assert second.returncode == 0, errors
    assert output.startswith("took semaphore ")
    assert value(sem_key) == 1
