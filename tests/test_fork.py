"""open_fork and spawn_detached, with real forks of the test process.

Every async test runs on asyncio and on uvloop (conftest), so the child always lets go
of one of the two loops.  The functions a child runs are defined here; they report what
they see over the channel or their stdout, and the parent acts only on what it has read
(no sleeps).  The autouse leak fixture fails any test that leaves a child, a zombie, an
fd or a signal disposition behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
import uvloop
from conftest import child_processes

import aioipc
from aioipc import DEVNULL, PIPE, STDOUT, ForkedProcess, open_fork, spawn_detached
from aioipc._children import _sigchld_fallback
from aioipc._fork_child import _logging_fds

HERE = Path(__file__).resolve().parent
TIMEOUT = 10


# ------------------------------------------------------------ what the children run


def upper_lines() -> None:
    """perlipc's pipe1 child, as a filter: stdin to stdout, upper-cased."""
    for line in sys.stdin:
        sys.stdout.write(line.upper())


def talk_twice(channel: socket.socket) -> None:
    """perlipc's pipe2 child: read a line, answer it, twice."""
    reader = channel.makefile("rb")
    for _ in range(2):
        line = reader.readline().rstrip(b"\n").decode()
        channel.sendall(f"Child Pid {os.getpid()} just read this: `{line}'\n".encode())


def report(channel: socket.socket, **facts: Any) -> None:
    channel.sendall(json.dumps(facts).encode() + b"\n")


def open_fds() -> dict[int, tuple[int, int]]:
    """Each open fd and what it refers to (device, inode)."""
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            st = os.stat(f"/proc/self/fd/{name}")
        except FileNotFoundError:
            continue  # the fd listdir itself used
        fds[int(name)] = (st.st_dev, st.st_ino)
    return fds


def assert_holds_nothing_of_ours(state: dict[str, Any]) -> None:
    """The child's fds are its stdio, its channel, and none of the parent's other files.

    Beyond those it may hold fds that at-fork handlers made in it (libuv recreates its
    signal lock pipe once uvloop has been used): new files, not ours.  It keeps the
    files of the logging handlers (pytest's own log file, here) on purpose.
    """
    fds = {int(fd): tuple(identity) for fd, identity in state["fds"].items()}
    assert {0, 1, 2, state["channel_fd"]} <= fds.keys()
    ours = set(open_fds().values())
    kept = {0, 1, 2, state["channel_fd"], *_logging_fds()}
    extra = {fd: identity for fd, identity in fds.items() if fd not in kept}
    assert not set(extra.values()) & ours, f"the child holds fds of the parent: {extra}"


def report_state(channel: socket.socket) -> None:
    """Tell the parent what the child inherited."""
    report(
        channel,
        pid=os.getpid(),
        fds=open_fds(),
        channel_fd=channel.fileno(),
        wakeup_fd=signal.set_wakeup_fd(-1),
        running_loop=repr(asyncio._get_running_loop()),
        sigint=repr(signal.getsignal(signal.SIGINT)),
        sigpipe=repr(signal.getsignal(signal.SIGPIPE)),
        sigusr1=repr(signal.getsignal(signal.SIGUSR1)),
        sigterm=repr(signal.getsignal(signal.SIGTERM)),
        asyncio_run=asyncio.run(asyncio.sleep(0, "asyncio.run works")),
        blocked=sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    )


def report_ids(channel: socket.socket) -> None:
    report(
        channel,
        uids=os.getresuid(),
        gids=os.getresgid(),
        groups=os.getgroups(),
        cwd=os.getcwd(),
        pid=os.getpid(),
        sid=os.getsid(0),
        pgid=os.getpgid(0),
    )


async def try_to_become_root(channel: aioipc.Stream) -> None:
    """As nobody, in a forked child's own loop: open_fork(user='root') must fail."""
    try:
        async with open_fork(int, user="root"):
            pass
    except Exception as exc:
        outcome: dict[str, str | None] = {"type": type(exc).__name__, "message": str(exc)}
    else:
        outcome = {"type": None, "message": "the drop back to root succeeded"}
    await channel.send(json.dumps(outcome).encode() + b"\n")


async def async_echo(channel: aioipc.Stream, prefix: str) -> int:
    line = await channel.readline()
    loop = type(asyncio.get_running_loop())
    await channel.send_line(f"{prefix} {line.decode()} on {loop.__module__}.{loop.__name__}")
    return 4


def ready_then_wait(channel: socket.socket, ignore_term: bool = False) -> None:
    """Say READY, then wait for a signal to end us (EOF on the channel does not)."""
    if ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    channel.sendall(b"READY\n")
    while True:
        signal.pause()


def count_until_eof() -> None:
    """The reader of perlipc's deadlock example: count stdin bytes, report at EOF."""
    print(len(sys.stdin.buffer.read()))


def boom() -> None:
    raise ValueError("boom in the child")


def interrupted() -> None:
    raise KeyboardInterrupt


async def child_loop_work() -> str:
    """What a child's own loop does: a subprocess and a signal, the two libuv-heavy parts."""
    proc = await asyncio.create_subprocess_exec("true")
    await proc.wait()
    got = asyncio.Event()
    with aioipc.on_signal(signal.SIGUSR1, lambda signum: got.set()):
        os.kill(os.getpid(), signal.SIGUSR1)
        await got.wait()
    return "uvloop" if isinstance(asyncio.get_running_loop(), uvloop.Loop) else "asyncio"


def run_own_loop(loop: aioipc._loop.LoopName) -> None:
    print(aioipc.run(child_loop_work(), loop=loop))


async def read_json(stream: aioipc.Stream) -> dict[str, Any]:
    with anyio.fail_after(TIMEOUT):
        result: dict[str, Any] = json.loads(await stream.readline())
    return result


async def read_all(stream: aioipc.Stream | None) -> bytes:
    assert stream is not None
    chunks = []
    with anyio.fail_after(TIMEOUT):
        while True:
            try:
                chunks.append(await stream.receive())
            except anyio.EndOfStream:
                return b"".join(chunks)


def channel_of(proc: ForkedProcess) -> aioipc.Stream:
    assert proc.channel is not None
    return proc.channel


# ------------------------------------------------------------------ perlipc's pipes


async def test_pipe1_two_pipes_filter() -> None:
    async with open_fork(upper_lines, stdin=PIPE, stdout=PIPE) as proc:
        assert proc.stdin is not None
        await proc.stdin.send_line("Parent Pid is sending this")
        await proc.stdin.send_line("and this")
        await proc.stdin.send_eof()
        output = await read_all(proc.stdout)
    assert output == b"PARENT PID IS SENDING THIS\nAND THIS\n"
    assert proc.returncode == 0
    assert proc.pid != os.getpid()


async def test_communicate_with_a_forked_filter_both_ways_at_once() -> None:
    # 8 MiB each way: more than any pipe buffer, so writing all before reading would
    # deadlock; communicate() (inherited from Process) does both at once.
    data = b"abcdefghijklmnopqrstuvwxyz012345\n" * (8 * 1024 * 1024 // 33)
    kid = await open_fork(upper_lines, stdin=PIPE, stdout=PIPE)
    async with kid:
        out, err = await kid.communicate(data)
    assert out == data.upper()
    assert err == b""
    assert kid.returncode == 0
    assert repr(kid).startswith(f"<aioipc.ForkedProcess pid={kid.pid} ")
    assert isinstance(kid, aioipc.Process)


async def test_pipe2_a_conversation_over_the_channel() -> None:
    async with open_fork(talk_twice, channel=True) as proc:
        channel = channel_of(proc)
        for text in ("first", "second"):
            await channel.send_line(f"Parent Pid {os.getpid()} is sending {text}")
            line = (await channel.readline()).decode()
            assert line == (
                f"Child Pid {proc.pid} just read this: "
                f"`Parent Pid {os.getpid()} is sending {text}'"
            )
    assert proc.returncode == 0


async def test_an_async_function_runs_in_a_fresh_asyncio_loop() -> None:
    async with open_fork(async_echo, "echo:", channel=True) as proc:
        channel = channel_of(proc)
        await channel.send_line("ping")
        assert await channel.readline() == b"echo: ping on aioipc._loop.AsyncioEventLoop"
    assert proc.returncode == 4


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
async def test_a_child_can_run_its_own_loop_of_either_kind(loop: str) -> None:
    # libuv's at-fork handler recreates its signal lock pipe in the child; the child
    # must keep that fd (closing it makes uvloop abort in subprocess_exec).
    async with open_fork(run_own_loop, loop, stdout=PIPE) as proc:
        output = await read_all(proc.stdout)
    assert proc.returncode == 0
    assert output.decode().strip() == loop


async def test_children_watched_through_the_sigchld_fallback() -> None:
    with _sigchld_fallback():
        async with open_fork(upper_lines, stdin=PIPE, stdout=PIPE) as proc:
            assert proc.stdin is not None
            await proc.stdin.send(b"no pidfd\n")
            await proc.stdin.send_eof()
            assert await read_all(proc.stdout) == b"NO PIDFD\n"
    assert proc.returncode == 0


async def test_forking_while_the_default_executor_has_threads() -> None:
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(loop.run_in_executor(None, os.getpid) for _ in range(8)))
    async with open_fork(async_echo, "threads:", channel=True) as proc:
        await channel_of(proc).send_line("ping")
        assert (await channel_of(proc).readline()).startswith(b"threads: ping")
    assert proc.returncode == 4


# ------------------------------------------------------------------ exit statuses


async def test_a_child_that_raises_exits_1_with_its_traceback_on_stderr() -> None:
    async with open_fork(boom, stderr=PIPE) as proc:
        stderr = await read_all(proc.stderr)
    assert proc.returncode == 1
    assert stderr.startswith(b"Traceback (most recent call last):")
    assert stderr.rstrip().endswith(b"ValueError: boom in the child")


@pytest.mark.parametrize(
    ("func", "returncode", "stderr"),
    [
        (lambda: None, 0, b""),
        (lambda: 7, 7, b""),
        (lambda: sys.exit(5), 5, b""),
        (lambda: sys.exit("fatal: no way"), 1, b"fatal: no way\n"),
        (lambda: "a string", 1, b"returned 'a string'; return None or an exit status"),
        (lambda: 256, 1, b"returned 256"),
        (lambda: os.kill(os.getpid(), signal.SIGTERM), -signal.SIGTERM, b""),
        (interrupted, -signal.SIGINT, b"\nKeyboardInterrupt\n"),
    ],
    ids=[
        "none",
        "int",
        "sys.exit",
        "sys.exit-message",
        "not-a-status",
        "too-big",
        "signal",
        "ctrl-c",
    ],
)
async def test_the_return_value_is_the_exit_status(
    func: Callable[[], object], returncode: int, stderr: bytes
) -> None:
    async with open_fork(func, stderr=PIPE) as proc:
        output = await read_all(proc.stderr)
    assert proc.returncode == returncode
    assert stderr in output
    status = await proc.wait()
    assert status.returncode == returncode
    assert proc.status == status


# ------------------------------------------------------ what the child lets go of


async def test_the_child_lets_go_of_the_loop_the_fds_and_the_handlers() -> None:
    loop = asyncio.get_running_loop()
    with aioipc.on_signal(signal.SIGUSR1, lambda signum: None):
        wakeup = signal.set_wakeup_fd(-1)
        signal.set_wakeup_fd(wakeup, warn_on_full_buffer=False)  # as the hub keeps it
        assert wakeup != -1  # the parent has one: the child must not
        async with open_fork(report_state, channel=True) as proc:
            state = await read_json(channel_of(proc))
    assert proc.returncode == 0
    assert state["pid"] == proc.pid
    assert_holds_nothing_of_ours(state)
    assert state["wakeup_fd"] == -1
    assert state["running_loop"] == "None"
    assert state["asyncio_run"] == "asyncio.run works"
    assert state["sigint"] == repr(signal.default_int_handler)
    assert state["sigpipe"] == repr(signal.SIG_IGN)  # as in any CPython process
    assert state["sigusr1"] == repr(signal.SIG_DFL)
    assert state["sigterm"] == repr(signal.SIG_DFL)
    assert state["blocked"] == []
    assert not loop.is_closed()


def kernel_signal_sets() -> tuple[set[int], set[int], set[int]]:
    """The caught, ignored and blocked signals of this process, as the kernel has them."""
    with open("/proc/self/status", "rb") as status:
        fields = dict(line.split(b":", 1) for line in status.read().splitlines())

    def signals(field: bytes) -> set[int]:
        mask = int(fields[field], 16)
        return {signum for signum in range(1, 65) if mask >> (signum - 1) & 1}

    return signals(b"SigCgt"), signals(b"SigIgn"), signals(b"SigBlk")


def report_dispositions(channel: socket.socket) -> None:
    caught, ignored, blocked = kernel_signal_sets()
    report(
        channel,
        caught=sorted(caught),
        ignored=sorted(ignored),
        blocked=sorted(blocked),
        handlers={
            signal.Signals(signum).name: repr(signal.getsignal(signum))
            for signum in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGALRM)
        },
    )


@pytest.mark.parametrize("with_proc", [True, False], ids=["proc-masks", "no-proc"])
async def test_the_child_resets_what_the_parent_changed_and_only_that(
    with_proc: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Caught signals go to SIG_DFL, plain ignores stay, ignore_signals() is unwound.

    The child learns which signals are caught or ignored from the kernel (SigCgt and
    SigIgn in /proc/self/status), C-level handlers such as libuv's included; without
    /proc it asks for every signal.  Either way the outcome is the same, and a signal the
    parent blocked itself stays blocked in the child, as after any fork().
    """
    if not with_proc:
        monkeypatch.setattr(aioipc._fork_child, "_kernel_dispositions", lambda: None)
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGUSR2, signal.SIGHUP)}
    signal.signal(signal.SIGUSR2, lambda signum, frame: None)  # plain Python handler
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # plain ignore: stays ignored
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    try:
        with (
            aioipc.on_signal(signal.SIGTERM, lambda signum: None),
            aioipc.ignore_signals(signal.SIGALRM),  # unwound to SIG_DFL in the child
        ):
            parent_caught, parent_ignored, _ = kernel_signal_sets()
            assert {signal.SIGUSR2, signal.SIGTERM} <= parent_caught
            assert {signal.SIGHUP, signal.SIGALRM, signal.SIGPIPE} <= parent_ignored
            async with open_fork(report_dispositions, channel=True) as proc:
                state = await read_json(channel_of(proc))
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert proc.returncode == 0
    # default_int_handler, nothing else (SIGINT stays ignored if the parent ignores it)
    # (glibc's internal signals, 32 and 33, are the C library's business)
    assert set(state["caught"]) & signal.valid_signals() == {signal.SIGINT} - parent_ignored
    assert set(state["ignored"]) == parent_ignored - {signal.SIGALRM}
    assert state["blocked"] == [signal.SIGUSR1]
    assert state["handlers"] == {
        "SIGUSR1": repr(signal.SIG_DFL),
        "SIGUSR2": repr(signal.SIG_DFL),
        "SIGHUP": repr(signal.SIG_IGN),
        "SIGALRM": repr(signal.SIG_DFL),
    }


async def test_signal_handlers_of_the_parent_still_work_after_the_child_dies() -> None:
    loop = asyncio.get_running_loop()
    got: list[str] = []
    arrived = asyncio.Event()

    def note(name: str) -> None:
        got.append(name)
        if len(got) == 2:
            arrived.set()

    loop.add_signal_handler(signal.SIGUSR2, note, "SIGUSR2 (loop handler)")
    try:
        with aioipc.on_signal(signal.SIGUSR1, lambda signum: note("SIGUSR1 (on_signal)")):
            async with open_fork(ready_then_wait, channel=True) as proc:
                channel = channel_of(proc)
                assert await channel.readline() == b"READY"
                # The child has its defaults back: SIGUSR1 kills it, and the parent's
                # handler must not run for a signal the child got.
                proc.send_signal(signal.SIGUSR1)
                assert (await proc.wait()).signal == signal.SIGUSR1
            os.kill(os.getpid(), signal.SIGUSR1)
            os.kill(os.getpid(), signal.SIGUSR2)
            with anyio.fail_after(TIMEOUT):
                await arrived.wait()
    finally:
        loop.remove_signal_handler(signal.SIGUSR2)
    assert sorted(got) == ["SIGUSR1 (on_signal)", "SIGUSR2 (loop handler)"]


async def test_the_child_keeps_pass_fds_and_nothing_else(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()

    def write_to_passed_fd() -> None:
        os.write(write_fd, b"through a passed fd")

    try:
        async with open_fork(write_to_passed_fd, pass_fds=[write_fd]) as proc:
            pass
        os.close(write_fd)
        write_fd = -1
        assert os.read(read_fd, 100) == b"through a passed fd"
        assert os.read(read_fd, 100) == b""  # no other copy of the write end is left
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    assert proc.returncode == 0


async def test_the_child_logs_where_the_parent_does_never_into_a_reused_fd(
    tmp_path: Path,
) -> None:
    log_path, other_path = tmp_path / "service.log", tmp_path / "other"
    handler = logging.FileHandler(log_path)
    logger = logging.getLogger("test_fork.child_log")
    logger.addHandler(handler)
    logger.propagate = False
    handler_fd = handler.stream.fileno()

    def open_files_then_log() -> None:
        # Every fd number up to the handler's is taken by another file, so a closed
        # handler fd would have been reused by one of them.
        opened = [os.open(other_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)]
        while opened[-1] < handler_fd and len(opened) <= handler_fd:
            opened.append(os.open(other_path, os.O_WRONLY | os.O_APPEND))
        logger.error("from the child")

    try:
        async with open_fork(open_files_then_log) as proc:
            pass
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.propagate = True
    assert proc.returncode == 0
    assert log_path.read_text() == "from the child\n"
    assert other_path.read_bytes() == b""


async def test_stdin_devnull_and_stderr_to_stdout() -> None:
    def read_then_complain() -> None:
        print(f"stdin gave {sys.stdin.read()!r}")
        print("to stderr", file=sys.stderr)

    async with open_fork(read_then_complain, stdin=DEVNULL, stdout=PIPE, stderr=STDOUT) as proc:
        output = await read_all(proc.stdout)
    assert sorted(output.splitlines()) == [b"stdin gave ''", b"to stderr"]


def test_no_atexit_handler_or_buffered_output_runs_twice(loop_name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(HERE / "fork_atexit_program.py"), "--loop", loop_name],
        capture_output=True,
        timeout=TIMEOUT,
        check=True,
    )
    lines = result.stdout.decode().splitlines()
    parent = lines[-1].split()[-1]
    assert lines[0] == "buffered before the fork"
    assert lines[1].startswith("child ")
    assert lines[1:] == [
        lines[1],
        "parent: the child exited with 0",
        f"finally ran in {parent}",
        f"atexit ran in {parent}",
    ]
    assert result.stderr == b""


@pytest.fixture(params=["asyncio", "uvloop"])
def loop_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# ------------------------------------------------------------ identity and session


async def test_privileges_are_dropped_to_nobody() -> None:
    async with open_fork(report_ids, channel=True, user="nobody") as proc:
        ids = await read_json(channel_of(proc))
    assert ids["uids"] == [65534, 65534, 65534]
    assert ids["gids"] == [65534, 65534, 65534]
    assert ids["groups"] == [65534]
    assert proc.returncode == 0


async def test_user_and_group_by_number() -> None:
    async with open_fork(report_ids, channel=True, user=65534, group=100) as proc:
        ids = await read_json(channel_of(proc))
    assert ids["uids"] == [65534] * 3
    assert ids["gids"] == [100] * 3
    assert ids["groups"] == [100]


async def test_a_drop_that_cannot_happen_fails_in_the_parent() -> None:
    # A child running as nobody forks again and asks for root: setgroups() fails there,
    # and the exception reaches the (nobody) parent from open_fork().
    async with open_fork(try_to_become_root, channel=True, user="nobody") as proc:
        outcome = await read_json(channel_of(proc))
    assert proc.returncode == 0
    assert outcome["type"] == "PermissionError"
    assert "open_fork(): the child could not set the supplementary groups" in (outcome["message"])
    assert "Operation not permitted" in outcome["message"]


async def test_unknown_users_and_groups_fail_before_forking() -> None:
    before = child_processes()
    with pytest.raises(ValueError, match="no such user"):
        open_fork(int, user="no-such-user-here")
    with pytest.raises(ValueError, match="no such group"):
        open_fork(int, group="no-such-group-here")
    with pytest.raises(ValueError, match="pass group="):
        open_fork(int, user=4242424)
    assert child_processes() == before


async def test_cwd(tmp_path: Path) -> None:
    async with open_fork(report_ids, channel=True, cwd=tmp_path) as proc:
        ids = await read_json(channel_of(proc))
    assert ids["cwd"] == str(tmp_path)
    assert os.getcwd() != str(tmp_path)


async def test_a_missing_cwd_fails_in_the_parent(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(FileNotFoundError, match="could not change directory") as caught:
        async with open_fork(int, cwd=missing):
            pass
    assert caught.value.filename == str(missing)


@pytest.mark.parametrize("new_session", [True, False])
async def test_new_session(new_session: bool) -> None:
    async with open_fork(report_ids, channel=True, new_session=new_session) as proc:
        ids = await read_json(channel_of(proc))
    if new_session:
        assert ids["sid"] == ids["pgid"] == proc.pid
    else:
        assert ids["sid"] == os.getsid(0)
        assert ids["pgid"] == os.getpgid(0)


# ------------------------------------------------------------------- lifetimes


@pytest.mark.parametrize("ignore_term", [False, True])
async def test_cancelling_the_block_kills_and_reaps(ignore_term: bool) -> None:
    started: list[ForkedProcess] = []
    ready = asyncio.Event()

    async def run() -> None:
        async with open_fork(ready_then_wait, ignore_term, channel=True, grace=0.2) as proc:
            started.append(proc)
            assert await channel_of(proc).readline() == b"READY"
            ready.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(run())
    with anyio.fail_after(TIMEOUT):
        await ready.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    expected = signal.SIGKILL if ignore_term else signal.SIGTERM
    assert started[0].returncode == -expected


async def test_cancelled_while_the_child_sets_itself_up() -> None:
    # The deadline passes at open_fork's first await: waiting for the child's setup
    # report.  The child must still be stopped and reaped, and every fd closed.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0), open_fork(ready_then_wait, channel=True, grace=0.5):
            pytest.fail("the block should not have been entered")


async def test_an_error_in_the_block_kills_reaps_and_propagates() -> None:
    started: list[ForkedProcess] = []

    async def give_up() -> None:
        async with open_fork(ready_then_wait, channel=True) as proc:
            started.append(proc)
            assert await channel_of(proc).readline() == b"READY"
            raise RuntimeError("parent gave up")

    with pytest.raises(RuntimeError, match="parent gave up"):
        await give_up()
    assert started[0].returncode == -signal.SIGTERM


async def test_the_pipe_deadlock_done_right() -> None:
    # perlipc's "|-" gotcha: a reader child waits for EOF on its stdin; a second child
    # forked while that pipe is open must not hold its write end, or EOF never comes.
    async with open_fork(count_until_eof, stdin=PIPE, stdout=PIPE) as reader:
        async with open_fork(report_state, channel=True) as other:
            state = await read_json(channel_of(other))
            assert_holds_nothing_of_ours(state)
            assert reader.stdin is not None
            await reader.stdin.send(b"x" * 100_000)
            await reader.stdin.aclose()  # the only write end left
            assert await read_all(reader.stdout) == b"100000\n"  # EOF reached the reader
            assert other.returncode is None or other.returncode == 0
        assert (await reader.wait()).success


async def test_bad_arguments() -> None:
    before = child_processes()
    with pytest.raises(TypeError, match="needs a function"):
        open_fork("not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="STDOUT is for stderr"):
        open_fork(int, stdout=STDOUT)
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    os.close(write_fd)
    with pytest.raises(ValueError, match="not open"):
        open_fork(int, stdin=read_fd)
    with pytest.raises(ValueError, match="not open"):
        open_fork(int, pass_fds=[read_fd])
    with pytest.raises(TypeError, match="name or a number"):
        open_fork(int, user=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="grace"):
        open_fork(int, grace=-1)
    assert child_processes() == before  # nothing was forked


async def test_check_raises_process_error_naming_the_function() -> None:
    with pytest.raises(aioipc.ProcessError, match="exited with status 1") as caught:
        async with open_fork(boom, stderr=DEVNULL, check=True):
            pass
    assert caught.value.argv == ["<fork of test_fork.boom>"]
    assert caught.value.returncode == 1


# ---------------------------------------------------------------- spawn_detached


async def wait_gone(pid: int) -> None:
    """Wait until a process that is not our child has exited (through a pidfd)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    gone: asyncio.Future[None] = loop.create_future()

    def exited() -> None:
        if not gone.done():
            gone.set_result(None)

    loop.add_reader(pidfd, exited)
    try:
        with anyio.fail_after(TIMEOUT):
            await gone
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


async def test_spawn_detached_runs_the_program_detached(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    before = child_processes()
    pid = await spawn_detached(
        [sys.executable, str(HERE / "fork_detached_program.py"), str(out)], cwd=tmp_path
    )
    assert child_processes() == before  # the intermediate child is reaped: nothing to reap
    await wait_gone(pid)
    facts = json.loads(out.read_text())
    assert facts["pid"] == facts["sid"] == facts["pgid"] == pid
    assert facts["cwd"] == str(tmp_path)
    assert facts["fds"] == {"0": "/dev/null", "1": "/dev/null", "2": "/dev/null"}
    assert facts["blocked"] == []


async def test_spawn_detached_gives_sigpipe_back() -> None:
    # CPython ignores SIGPIPE, and SIG_IGN survives exec: the program must not inherit it.
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        pid = await spawn_detached(
            ["grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"], stdout=write_fd
        )
    finally:
        os.close(write_fd)
    async with await aioipc.Stream.from_pipe_fds(read_fd=read_fd) as stream:
        masks = dict(line.split(b":\t") for line in (await read_all(stream)).splitlines())
    await wait_gone(pid)
    assert int(masks[b"SigBlk"], 16) == 0
    assert not int(masks[b"SigIgn"], 16) & (1 << (signal.SIGPIPE - 1))
    assert not int(masks[b"SigIgn"], 16) & (1 << (signal.SIGXFSZ - 1))


async def test_spawn_detached_output_to_a_given_fd() -> None:
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        pid = await spawn_detached(["echo", "from the background"], stdout=write_fd)
    finally:
        os.close(write_fd)
    stream = await aioipc.Stream.from_pipe_fds(read_fd=read_fd)
    async with stream:
        assert await read_all(stream) == b"from the background\n"
    await wait_gone(pid)


async def test_spawn_detached_missing_program() -> None:
    with pytest.raises(FileNotFoundError, match="could not run the program") as caught:
        await spawn_detached(["no-such-program-anywhere", "arg"])
    assert caught.value.filename == "no-such-program-anywhere"
    assert "'no-such-program-anywhere'" in str(caught.value)


async def test_spawn_detached_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(PermissionError, match="could not run the program"):
        await spawn_detached([str(script)])


async def test_spawn_detached_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="list of arguments"):
        await spawn_detached("sleep 1")
    with pytest.raises(ValueError, match="non-empty"):
        await spawn_detached([])
    with pytest.raises(ValueError, match="no pipe back"):
        await spawn_detached(["true"], stdout=PIPE)
    with pytest.raises(FileNotFoundError, match="could not change directory"):
        await spawn_detached(["true"], cwd=tmp_path / "missing")
