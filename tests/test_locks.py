"""lock_file: flock advisory locks against real competing processes, on both loops.

The competitors are tests/lock_holder_program.py (Python blocked in a plain ``flock``)
and tests/interop/perl/flock_holder.pl (perlipc's ``flock(FH, 2)``).  A holder prints
``READY`` once it holds the lock, and on ``release`` writes ``released by PID`` into the
file *before* it unlocks: a waiter that then finds those words in the file got the lock
after the release, with no timing involved.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import aioipc

HERE = Path(__file__).resolve().parent
HOLDER = HERE / "lock_holder_program.py"
PERL_HOLDER = HERE / "interop" / "perl" / "flock_holder.pl"
TIMEOUT = 20


async def start_holder(path: Path, *extra: str, perl: bool = False) -> aioipc.Process:
    """Start a process that holds a lock on ``path``; return once it says READY."""
    argv = ["perl", str(PERL_HOLDER)] if perl else [sys.executable, str(HOLDER)]
    proc = await aioipc.open_process(
        [*argv, str(path), *extra], stdin=aioipc.PIPE, stdout=aioipc.PIPE
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(TIMEOUT):
            assert await proc.stdout.readline() == b"READY"
    except BaseException:
        await proc.aclose()
        raise
    return proc


async def release(holder: aioipc.Process) -> None:
    assert holder.stdin is not None
    assert holder.stdout is not None
    await holder.stdin.send_line(b"release")
    async with asyncio.timeout(TIMEOUT):
        assert await holder.stdout.readline() == b"RELEASED"


async def other_process_tries(path: Path, *, shared: bool = False) -> str:
    """What a LOCK_NB attempt from another process gets: GOT or BUSY."""
    extra = ["--shared"] if shared else []
    result = await aioipc.run_process(
        [sys.executable, str(HOLDER), str(path), "--try", *extra], timeout=TIMEOUT
    )
    return result.stdout.decode().strip()


def locks_on(path: Path) -> list[str]:
    """The lines of /proc/locks about ``path``'s inode (any process)."""
    st = os.stat(path)
    suffix = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    lines = Path("/proc/locks").read_text().splitlines()
    return [line for line in lines if line.split()[-3] == suffix]


def fds_on(path: Path) -> list[int]:
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == str(path):
                found.append(int(name))
        except FileNotFoundError:
            continue
    return found


async def inside_the_wait(path: Path, task: asyncio.Task[str]) -> None:
    """Yield to the loop until ``task`` is inside ``lock_file(path)``, waiting.

    ``lock_file`` opens the file and makes its first attempt before it first awaits,
    so once this process has an fd on ``path`` (the test's own ``timeout=0`` tries
    open and close theirs without yielding), the task holds it while it retries.
    """
    async with asyncio.timeout(TIMEOUT):
        while not fds_on(path):
            assert not task.done(), "the task ended without waiting"
            await asyncio.sleep(0)


@pytest.fixture
async def holder(tmp_path: Path) -> AsyncIterator[aioipc.Process]:
    """A process holding an exclusive lock on tmp_path/lock."""
    proc = await start_holder(tmp_path / "lock")
    async with proc:
        yield proc


# Taking and releasing


async def test_lock_creates_a_private_file_and_releases_at_exit(tmp_path: Path) -> None:
    path = tmp_path / "new.lock"
    async with aioipc.lock_file(path) as fd:
        assert os.fstat(fd).st_ino == os.stat(path).st_ino
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert await other_process_tries(path) == "BUSY"
        assert await other_process_tries(path, shared=True) == "BUSY"
        [entry] = locks_on(path)
        assert "FLOCK" in entry
    assert fds_on(path) == []
    assert locks_on(path) == []
    assert await other_process_tries(path) == "GOT"


async def test_mode_applies_to_a_new_file_only(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    old = os.umask(0)
    try:
        async with aioipc.lock_file(path, mode=0o644):
            pass
        assert os.stat(path).st_mode & 0o777 == 0o644
        os.chmod(path, 0o640)
        async with aioipc.lock_file(path, mode=0o600):
            pass
        assert os.stat(path).st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


async def test_waiter_gets_the_lock_after_another_process_releases_it(
    tmp_path: Path, holder: aioipc.Process
) -> None:
    path = tmp_path / "lock"
    with pytest.raises(aioipc.IPCTimeoutError):
        async with aioipc.lock_file(path, timeout=0):
            pass

    async def waiter() -> str:
        async with aioipc.lock_file(path, timeout=TIMEOUT):
            return path.read_text()

    task = asyncio.create_task(waiter())
    await inside_the_wait(path, task)
    await release(holder)
    assert await task == f"released by {holder.pid}\n"


async def test_waiter_gets_the_lock_when_the_holder_dies(
    tmp_path: Path, holder: aioipc.Process
) -> None:
    path = tmp_path / "lock"
    task = asyncio.create_task(_hold_then_report(path))
    await inside_the_wait(path, task)
    with pytest.raises(aioipc.IPCTimeoutError):
        async with aioipc.lock_file(path, timeout=0):
            pass
    for _ in range(5):  # the holder is alive: the waiting task cannot get the lock
        await asyncio.sleep(0)
    assert not task.done()
    holder.kill()
    await holder.wait()
    assert await task == "locked"


async def _hold_then_report(path: Path) -> str:
    async with aioipc.lock_file(path, timeout=TIMEOUT):
        return "locked"


async def test_waiter_gets_the_lock_perl_releases(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    async with await start_holder(path, perl=True) as perl:
        task = asyncio.create_task(_read_under_lock(path))
        await inside_the_wait(path, task)
        with pytest.raises(aioipc.IPCTimeoutError):
            async with aioipc.lock_file(path, timeout=0):
                pass
        await release(perl)
        assert await task == f"released by {perl.pid}\n"


async def _read_under_lock(path: Path) -> str:
    async with aioipc.lock_file(path, timeout=TIMEOUT):
        return path.read_text()


async def test_many_waiters_in_one_process_take_turns(tmp_path: Path) -> None:
    """Each lock_file opens its own description, so tasks exclude each other too."""
    path = tmp_path / "lock"
    inside = 0
    most = 0

    async def worker() -> None:
        nonlocal inside, most
        async with aioipc.lock_file(path, timeout=TIMEOUT):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0)  # give the others a chance to barge in
            inside -= 1

    await asyncio.gather(*(worker() for _ in range(20)))
    assert most == 1


# Shared and exclusive


async def test_shared_locks_coexist_and_exclude_an_exclusive_one(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.touch()
    async with await start_holder(path, "--shared") as reader:
        async with aioipc.lock_file(path, exclusive=False, timeout=0):
            assert await other_process_tries(path, shared=True) == "GOT"
            assert await other_process_tries(path) == "BUSY"
        with pytest.raises(aioipc.IPCTimeoutError, match="an exclusive lock"):
            async with aioipc.lock_file(path, timeout=0):
                pass
        task = asyncio.create_task(_read_under_lock(path))
        await inside_the_wait(path, task)
        await release(reader)
        assert await task == f"released by {reader.pid}\n"


async def test_an_exclusive_holder_excludes_shared_lockers(
    tmp_path: Path, holder: aioipc.Process
) -> None:
    path = tmp_path / "lock"
    with pytest.raises(aioipc.IPCTimeoutError, match="a shared lock"):
        async with aioipc.lock_file(path, exclusive=False, timeout=0):
            pass
    task = asyncio.create_task(_read_shared(path))
    await inside_the_wait(path, task)
    await release(holder)
    assert await task == f"released by {holder.pid}\n"


async def _read_shared(path: Path) -> str:
    async with aioipc.lock_file(path, exclusive=False, timeout=TIMEOUT):
        return path.read_text()


async def test_a_read_only_file_can_be_locked_exclusively(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.touch()
    path.chmod(0o400)
    async with aioipc.lock_file(path):
        assert await other_process_tries(path) == "BUSY"
    assert await other_process_tries(path) == "GOT"


async def test_a_directory_can_be_locked(tmp_path: Path) -> None:
    directory = tmp_path / "dir"
    directory.mkdir()
    async with aioipc.lock_file(directory):
        assert await other_process_tries(directory) == "BUSY"
        with pytest.raises(aioipc.IPCTimeoutError, match="dir'"):
            async with aioipc.lock_file(directory, timeout=0):
                pass
    assert await other_process_tries(directory) == "GOT"


# Timeouts and cancellation


async def test_timeout_names_the_path_and_the_kind(tmp_path: Path, holder: aioipc.Process) -> None:
    path = tmp_path / "lock"
    with pytest.raises(aioipc.IPCTimeoutError) as caught:
        async with aioipc.lock_file(path, timeout=0.05):
            pytest.fail("got a lock another process holds")
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, aioipc.IPCError)
    message = str(caught.value)
    assert "0.05 s" in message
    assert "an exclusive lock" in message
    assert repr(str(path)) in message
    assert fds_on(path) == []


async def test_cancellation_while_waiting_leaves_no_lock_and_no_fd(
    tmp_path: Path, holder: aioipc.Process
) -> None:
    path = tmp_path / "lock"
    task = asyncio.create_task(_hold_then_report(path))
    await inside_the_wait(path, task)
    with pytest.raises(aioipc.IPCTimeoutError):
        async with aioipc.lock_file(path, timeout=0):
            pass
    assert len(fds_on(path)) == 1  # the waiting task's
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fds_on(path) == []
    await release(holder)
    assert [line for line in locks_on(path) if f" {os.getpid()} " in line] == []
    assert await other_process_tries(path) == "GOT"


async def test_asyncio_timeout_around_the_wait(tmp_path: Path, holder: aioipc.Process) -> None:
    path = tmp_path / "lock"
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await _hold_then_report(path)
    assert fds_on(path) == []


async def test_an_error_in_the_block_releases(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with pytest.raises(ZeroDivisionError):
        async with aioipc.lock_file(path):
            1 / 0  # noqa: B018
    assert fds_on(path) == []
    assert await other_process_tries(path) == "GOT"


# The fd form


async def test_an_fd_is_locked_as_it_is_and_left_open(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        async with aioipc.lock_file(fd) as got:
            assert got == fd
            assert await other_process_tries(path) == "BUSY"
        os.fstat(fd)  # still open
        assert await other_process_tries(path) == "GOT"
        with open(path, "rb") as file:
            async with aioipc.lock_file(file, exclusive=False) as got:
                assert got == file.fileno()
                assert await other_process_tries(path) == "BUSY"
                assert await other_process_tries(path, shared=True) == "GOT"
            assert not file.closed
    finally:
        os.close(fd)


async def test_an_fd_form_timeout_names_the_file(tmp_path: Path, holder: aioipc.Process) -> None:
    path = tmp_path / "lock"
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(aioipc.IPCTimeoutError, match=rf"fd {fd} \({path}\)"):
            async with aioipc.lock_file(fd, timeout=0.01):
                pass
        # a failed wait leaves the caller's fd open and unlocked
        os.fstat(fd)
        await release(holder)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


async def test_two_fds_of_one_description_share_the_lock(tmp_path: Path) -> None:
    """flock belongs to the open file description: a dup is the same holder."""
    path = tmp_path / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    duplicate = os.dup(fd)
    try:
        async with aioipc.lock_file(fd):
            async with aioipc.lock_file(duplicate, timeout=0):
                assert await other_process_tries(path) == "BUSY"
            # leaving the inner block unlocked the one shared lock
            assert await other_process_tries(path) == "GOT"
    finally:
        os.close(duplicate)
        os.close(fd)


# Bad arguments


async def test_bad_arguments_are_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with pytest.raises(TypeError, match="path_or_fd"):
        aioipc.lock_file(True)
    with pytest.raises(TypeError, match=r"path_or_fd.*float"):
        aioipc.lock_file(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"path_or_fd.*NoneType"):
        aioipc.lock_file(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fd >= 0"):
        aioipc.lock_file(-1)
    closed = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    os.close(closed)
    with pytest.raises(ValueError, match=f"fd {closed} is not open"):
        aioipc.lock_file(closed)
    with pytest.raises(ValueError, match="empty path"):
        aioipc.lock_file("")
    with pytest.raises(TypeError, match="exclusive"):
        aioipc.lock_file(path, exclusive="yes")  # type: ignore[arg-type]
    for timeout in (-1, float("nan"), "1", True):
        with pytest.raises(ValueError, match="timeout"):
            aioipc.lock_file(path, timeout=timeout)  # type: ignore[arg-type]
    for mode in (-1, 0o10000, "0o600"):
        with pytest.raises(ValueError, match="mode"):
            aioipc.lock_file(path, mode=mode)  # type: ignore[arg-type]
    file = open(path, "rb")  # noqa: SIM115
    file.close()
    with pytest.raises(ValueError, match="closed file"):
        aioipc.lock_file(file)


async def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "lock"
    with pytest.raises(FileNotFoundError, match=r"its directory '.*/no/such' does not exist"):
        async with aioipc.lock_file(path):
            pass


async def test_a_dangling_symlink_is_created_through(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "target")
    async with aioipc.lock_file(link):
        assert (tmp_path / "target").exists()
