"""The child watcher: exit statuses, reaping, signalling, cancellation, the fallback.

Every child here is a real process started with ``os.posix_spawn`` and handed to
``watch_child``; the async tests run on asyncio and on uvloop (conftest), and the
``mode`` fixture runs the watcher tests once with pidfds and once with the SIGCHLD
fallback forced on.  The autouse leak fixture fails any test that leaves a zombie, an
fd or a changed SIGCHLD disposition behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator

import anyio
import pytest

from aioipc import Stream
from aioipc._children import Child, ExitStatus, _sigchld_fallback, pidfds_supported, watch_child

PERL = "/usr/bin/perl"


@pytest.fixture(params=["pidfd", "sigchld"])
def mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """Watch children through pidfds, then again through the SIGCHLD fallback."""
    with _sigchld_fallback() if request.param == "sigchld" else contextlib.nullcontext():
        yield request.param


def spawn(argv: list[str], *, setsid: bool = False) -> Child:
    """Start ``argv`` (stdio inherited, no core files) and watch it."""
    pid = os.posix_spawn(argv[0], argv, os.environ, setsid=setsid)
    return watch_child(pid, own_group=setsid)


async def spawn_with_stdout(argv: list[str], *, setsid: bool = False) -> tuple[Child, Stream]:
    """Start ``argv`` with its stdout on a pipe; return the child and the read end."""
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        pid = os.posix_spawn(
            argv[0],
            argv,
            os.environ,
            file_actions=[(os.POSIX_SPAWN_DUP2, write_fd, 1)],
            setsid=setsid,
        )
    finally:
        os.close(write_fd)
    child = watch_child(pid, own_group=setsid)
    return child, await Stream.from_pipe_fds(read_fd=read_fd)


def perl(code: str) -> list[str]:
    return [PERL, "-e", code]


# --------------------------------------------------------------------- ExitStatus


def test_exit_status_from_raw_wait_statuses() -> None:
    assert ExitStatus.from_wait_status(3 << 8) == ExitStatus(code=3)
    assert ExitStatus.from_wait_status(signal.SIGTERM) == ExitStatus(signal=signal.SIGTERM)
    dumped = ExitStatus.from_wait_status(0x80 | signal.SIGSEGV)
    assert dumped == ExitStatus(signal=signal.SIGSEGV, core_dumped=True)
    with pytest.raises(ValueError, match="stop or continue"):
        ExitStatus.from_wait_status((signal.SIGSTOP << 8) | 0x7F)


def test_exit_status_reads_like_a_person_says_it() -> None:
    assert str(ExitStatus(code=0)) == "exited with status 0"
    assert str(ExitStatus(code=3)) == "exited with status 3"
    assert str(ExitStatus(signal=signal.SIGTERM)) == "killed by SIGTERM"
    dumped = ExitStatus(signal=signal.SIGSEGV, core_dumped=True)
    assert str(dumped) == "killed by SIGSEGV (core dumped)"
    assert str(ExitStatus(signal=signal.SIGRTMIN + 2)) == "killed by SIGRTMIN+2"


def test_exit_status_returncode_matches_subprocess() -> None:
    assert ExitStatus(code=3).returncode == 3
    assert ExitStatus(signal=9).returncode == -9
    assert ExitStatus(code=0).success
    assert not ExitStatus(code=1).success
    assert not ExitStatus(signal=15).success
    assert ExitStatus.from_returncode(-15) == ExitStatus(signal=15)
    assert ExitStatus.from_returncode(7) == ExitStatus(code=7)
    assert ExitStatus(signal=15).signal_name == "SIGTERM"
    assert ExitStatus(code=0).signal_name is None


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"code": 1, "signal": 9}, {"code": 256}, {"signal": 0}, {"code": 0, "core_dumped": True}],
)
def test_exit_status_refuses_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        ExitStatus(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------- real children


async def test_exit_codes_are_decoded(mode: str) -> None:
    children = [spawn(perl(f"exit {code}")) for code in (0, 1, 3, 255)]
    statuses = [await child.wait() for child in children]
    assert [s.code for s in statuses] == [0, 1, 3, 255]
    assert all(s.signal is None and not s.core_dumped for s in statuses)
    assert [c.returncode for c in children] == [0, 1, 3, 255]


async def test_death_by_signal_is_decoded(mode: str) -> None:
    child = spawn(perl("kill TERM => $$; sleep 10"))
    status = await child.wait()
    assert status == ExitStatus(signal=signal.SIGTERM)
    assert child.returncode == -signal.SIGTERM
    assert str(status) == "killed by SIGTERM"


async def test_fault_with_core_dumps_disabled(mode: str) -> None:
    # RLIMIT_CORE 0 (ulimit -c 0): SIGSEGV's default action, but no core file is written.
    child = spawn(["/bin/sh", "-c", "ulimit -c 0; exec perl -e 'kill SEGV => $$; sleep 10'"])
    status = await child.wait()
    assert status.signal == signal.SIGSEGV
    assert status.core_dumped is False
    assert str(status) == "killed by SIGSEGV"


async def test_two_hundred_children_exiting_at_once_are_all_reaped(mode: str) -> None:
    # They all block on one pipe and exit together when its write end closes.
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    children = []
    try:
        for index in range(200):
            pid = os.posix_spawn(
                "/bin/sh",
                ["sh", "-c", f"read line; exit {index % 7}"],
                os.environ,
                file_actions=[(os.POSIX_SPAWN_DUP2, read_fd, 0)],
            )
            children.append(watch_child(pid))
    finally:
        os.close(read_fd)
        os.close(write_fd)
    statuses = await asyncio.gather(*(child.wait() for child in children))
    assert [s.code for s in statuses] == [index % 7 for index in range(200)]


async def test_a_cancelled_wait_does_not_cancel_the_exit(mode: str) -> None:
    child, out = await spawn_with_stdout(perl('$| = 1; print "READY\\n"; sleep 10; exit 4'))
    async with out:
        assert await out.readline() == b"READY"
        waiter = asyncio.ensure_future(child.wait())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert child.returncode is None
        assert child.send_signal(signal.SIGKILL)
        assert (await child.wait()).signal == signal.SIGKILL


async def test_many_waiters_get_the_same_status(mode: str) -> None:
    child = spawn(perl("exit 9"))
    statuses = await asyncio.gather(*(child.wait() for _ in range(5)))
    assert {s.code for s in statuses} == {9}


async def test_send_signal_after_exit_sends_nothing(mode: str) -> None:
    child = spawn(perl("exit 0"))
    await child.wait()
    assert child.send_signal(signal.SIGTERM) is False
    assert child.send_signal("KILL") is False


async def test_send_signal_by_name_reaches_the_child(mode: str) -> None:
    child, out = await spawn_with_stdout(
        perl(
            '$SIG{USR1} = sub { print "got USR1\\n"; exit 0 }; $| = 1; print "READY\\n"; sleep 10'
        )
    )
    async with out:
        assert await out.readline() == b"READY"
        assert child.send_signal("USR1") is True
        assert await out.readline() == b"got USR1"
    assert (await child.wait()).code == 0


async def test_poll_reaps_without_yielding(mode: str) -> None:
    child, out = await spawn_with_stdout(perl('print "bye\\n"; exit 2'))
    async with out:
        assert await out.readline() == b"bye"
        with pytest.raises(anyio.EndOfStream):
            await out.readline()  # the child has closed its stdout by exiting
    status = await child.wait()
    assert child.poll() == status


async def test_a_child_reaped_behind_the_watchers_back_is_reported(mode: str) -> None:
    child, out = await spawn_with_stdout(perl('$| = 1; print "READY\\n"; sleep 10'))
    async with out:
        assert await out.readline() == b"READY"
        os.kill(child.pid, signal.SIGKILL)
        os.waitpid(child.pid, 0)  # what a waitpid(-1) elsewhere would do
        with pytest.raises(ChildProcessError, match="reaped by someone else"):
            await child.wait()
    with pytest.raises(ChildProcessError):
        await child.wait()  # and again: the answer does not change


async def test_not_our_child_is_refused(mode: str) -> None:
    with pytest.raises(ChildProcessError, match="not a child of this process"):
        watch_child(1)


def test_pid_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        watch_child(0)


async def test_the_fallback_holds_sigchld_only_while_children_are_watched() -> None:
    with _sigchld_fallback():
        child, out = await spawn_with_stdout(perl('$| = 1; print "READY\\n"; sleep 10'))
        async with out:
            assert await out.readline() == b"READY"
            assert signal.getsignal(signal.SIGCHLD) not in (signal.SIG_DFL, None)
            child.send_signal(signal.SIGTERM)
            await child.wait()
    assert signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL


def test_this_kernel_has_pidfds() -> None:
    assert pidfds_supported()


# --------------------------------------------------------------------- shutdown


async def test_shutdown_kills_a_child_that_ignores_sigterm(mode: str) -> None:
    child, out = await spawn_with_stdout(
        perl('$SIG{TERM} = "IGNORE"; $| = 1; print "READY\\n"; sleep 100')
    )
    async with out:
        assert await out.readline() == b"READY"
        status = await child.shutdown(grace=0.2)
    assert status == ExitStatus(signal=signal.SIGKILL)


async def test_shutdown_is_polite_to_a_child_that_listens(mode: str) -> None:
    child, out = await spawn_with_stdout(
        perl('$SIG{TERM} = sub { exit 7 }; $| = 1; print "READY\\n"; sleep 100')
    )
    async with out:
        assert await out.readline() == b"READY"
        status = await child.shutdown(grace=30)
    assert status.code == 7


async def test_shutdown_kills_what_is_left_of_the_group(mode: str) -> None:
    # The child exits on SIGTERM at once; its grandchild ignores SIGTERM and holds the
    # pipe: EOF on the pipe proves the grandchild was killed too.
    script = "trap 'exit 0' TERM; perl -e '$SIG{TERM} = q(IGNORE); sleep 100' & echo READY; wait"
    child, out = await spawn_with_stdout(["/bin/sh", "-c", script], setsid=True)
    async with out:
        assert await out.readline() == b"READY"
        status = await child.shutdown(grace=0.3)
        assert status.code == 0
        with pytest.raises(anyio.EndOfStream):
            await out.receive()


async def test_shutdown_finishes_even_if_the_caller_is_cancelled(mode: str) -> None:
    child, out = await spawn_with_stdout(
        perl('$SIG{TERM} = "IGNORE"; $| = 1; print "READY\\n"; sleep 100')
    )
    async with out:
        assert await out.readline() == b"READY"
        task = asyncio.ensure_future(child.shutdown(grace=0.2))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert child.status == ExitStatus(signal=signal.SIGKILL)


@pytest.mark.parametrize("kind", ["asyncio", "uvloop"])
def test_a_loop_closed_while_a_child_is_watched_does_not_leak_the_pidfd(kind: str) -> None:
    async def start() -> int:
        child = spawn(["/bin/sleep", "100"])
        return child.pid

    import aioipc

    pid = aioipc.run(start(), loop=kind)  # type: ignore[arg-type]
    # The loop is gone; the watcher could not reap.  The pidfd goes with the Child
    # (the leak fixture checks), and the zombie is this test's to reap.
    os.kill(pid, signal.SIGKILL)
    assert os.waitpid(pid, 0)[0] == pid
