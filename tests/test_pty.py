"""open_pty and Terminal: real ptys, real programs, on both loops."""

from __future__ import annotations

import asyncio
import errno
import os
import re
import signal
import sys
from pathlib import Path

import anyio
import pytest

from aioipc._errors import ExpectEOF, ExpectTimeout, IPCError, IPCTimeoutError
from aioipc._pty import open_pty
from aioipc._streams import StreamAttribute

PROGRAM = str(Path(__file__).resolve().parent / "pty_program.py")


def program(mode: str) -> list[str]:
    return [sys.executable, PROGRAM, mode]


async def test_the_child_has_the_pty_as_its_controlling_terminal() -> None:
    async with open_pty(program("isatty")) as term:
        line = (await term.readline()).decode()
        assert line == f"True True True {term.tty}"
        assert re.fullmatch(r"/dev/pts/\d+", term.tty)
        assert await term.readline() == b"TTY OK"
        status = await term.wait()
        assert status.code == 0


async def test_tty_names_the_terminal() -> None:
    async with open_pty(["tty"]) as term:
        assert (await term.readline()).decode() == term.tty
        assert (await term.wait()).code == 0


async def test_cat_n_loop_without_echo() -> None:
    # perlipc's open_proc('cat -n'): 10 lines in, 10 numbered lines back.
    async with open_pty(["cat", "-n"], echo=False) as term:
        for i in range(1, 11):
            await term.send_line(f"line {i}")
            number, _, text = (await term.readline()).decode().strip().partition("\t")
            assert (int(number), text) == (i, f"line {i}")
        await term.send(b"\x04")  # ^D at the start of a line: EOF for cat
        assert (await term.wait()).code == 0
        with pytest.raises(anyio.EndOfStream):
            await term.readline()


async def test_cat_n_with_echo_shows_what_was_typed() -> None:
    async with open_pty(["cat", "-n"]) as term:
        await term.send_line("hello")
        assert await term.readline() == b"hello"  # the terminal echoes
        assert (await term.readline()).decode().strip() == "1\thello"


async def test_password_dialogue_through_dev_tty() -> None:
    async with open_pty(program("password")) as term:
        await term.expect(b"login: ")
        await term.send_line("alice")
        first = await term.expect_exact("Password: ")
        assert first.before == b"alice\r\n"  # echoed while echo was on
        await term.send_line("s3cret")
        result = await term.expect([rb"welcome (\w+)", b"access denied"])
        assert result.index == 0
        assert result.match is not None
        assert result.match.group(1) == b"alice"
        assert b"s3cret" not in result.before  # getpass turned echo off
        assert (await term.wait()).code == 0


async def test_wrong_password_is_refused() -> None:
    async with open_pty(program("password")) as term:
        await term.expect("login: ")
        await term.send_line("alice")
        await term.expect("Password: ")
        await term.send_line("guess")
        assert (await term.expect([b"welcome", b"access denied"])).index == 1
        assert (await term.wait()).code == 1


async def test_expect_keeps_what_follows_the_match() -> None:
    async with open_pty(["printf", "one two three\\nfour\\n"]) as term:
        result = await term.expect_exact([b"two", b"one"])
        assert (result.index, result.before, result.after) == (1, b"", b"one")
        result = await term.expect(rb"t\w+")
        assert (result.before, result.after) == (b" ", b"two")
        assert await term.readline() == b" three"
        assert await term.readline() == b"four"


async def test_expect_timeout_shows_the_tail_and_patterns() -> None:
    async with open_pty(program("ready")) as term:
        await term.expect_exact("READY\r\n")  # all of it, before the echo can come
        await term.send_line("typed")
        await term.expect("typed")  # the echo
        with pytest.raises(ExpectTimeout) as caught:
            await term.expect([b"never", b"nor this"], timeout=0.2)
        assert isinstance(caught.value, IPCTimeoutError)
        assert isinstance(caught.value, TimeoutError)
        message = str(caught.value)
        assert "b'never'" in message
        assert "b'nor this'" in message
        assert repr(b"READY\r\ntyped\r\n") in message
        assert caught.value.partial == b"\r\n"


async def test_expect_eof_shows_the_tail() -> None:
    async with open_pty(["echo", "x" * 300 + "END"]) as term:
        with pytest.raises(ExpectEOF) as caught:
            await term.expect_exact("never")
        assert isinstance(caught.value, IPCError)
        assert isinstance(caught.value, anyio.EndOfStream)
        assert caught.value.tail == (b"x" * 300 + b"END\r\n")[-200:]
        assert repr(caught.value.tail) in str(caught.value)
        assert "'never'" in str(caught.value)
        assert caught.value.before.endswith(b"END\r\n")


async def test_resize_sends_sigwinch_and_the_child_sees_the_size() -> None:
    async with open_pty(program("winsize"), rows=30, cols=100, echo=False) as term:
        assert await term.readline() == b"SIZE 30 100"
        assert term.get_size() == (30, 100)
        term.resize(50, 132)
        assert await term.readline() == b"SIZE 50 132"
        assert term.get_size() == (50, 132)


async def test_ctrl_c_interrupts_the_child() -> None:
    async with open_pty(["sh", "-c", "echo READY; exec sleep 100"]) as term:
        await term.expect("READY")
        await term.send(b"\x03")
        status = await term.wait()
        assert status.signal == signal.SIGINT


async def test_leaving_the_block_hangs_up_the_child() -> None:
    async with open_pty(program("ready")) as term:
        await term.expect("READY")
    assert term.returncode == -signal.SIGHUP


# Job control.  bash must give the terminal to its job before the job runs, so each job
# prints a word (spelt differently on its command line, which the terminal echoes)
# once it runs: only then does ^Z reach it.

SHELL_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PS1": "PROMPT$ ", "TERM": "dumb"}
PROMPT = "PROMPT$ "
JOB_TIMEOUT = 30


async def test_ctrl_z_stops_a_shells_job_and_fg_continues_it() -> None:
    async with open_pty(["bash", "--norc", "--noprofile", "-i"], env=SHELL_ENV) as term:
        await term.expect_exact(PROMPT, timeout=JOB_TIMEOUT)
        await term.send_line("""sh -c 'echo RUN""NING; read line; echo got "$line"'""")
        await term.expect_exact("RUNNING\r\n", timeout=JOB_TIMEOUT)
        job_group = os.tcgetpgrp(term.extra(StreamAttribute.fd))
        assert job_group != term.pid  # the job runs in its own foreground group
        await term.send(b"\x1a")
        stopped = await term.expect_exact(PROMPT, timeout=JOB_TIMEOUT)
        assert re.search(rb"\[1\]\+ +Stopped +sh -c", stopped.before), stopped.before
        assert (
            os.tcgetpgrp(term.extra(StreamAttribute.fd)) == term.pid
        )  # the shell took the terminal back
        await term.send_line("jobs -l")
        listed = await term.expect_exact(PROMPT, timeout=JOB_TIMEOUT)
        assert re.search(rb"\[1\]\+ +%d Stopped" % job_group, listed.before), listed.before
        await term.send_line("fg")
        # bash prints the job's command line, then the job reads on.
        await term.expect_exact("""got "$line"'\r\n""", timeout=JOB_TIMEOUT)
        await term.send_line("hello")  # read by the continued job, now in the foreground
        await term.expect_exact("got hello\r\n", timeout=JOB_TIMEOUT)
        await term.expect_exact(PROMPT, timeout=JOB_TIMEOUT)
        await term.send_line("exit")
        assert (await term.wait()).code == 0


async def test_a_background_job_reading_the_terminal_is_stopped_by_sigttin() -> None:
    async with open_pty(["bash", "--norc", "--noprofile", "-i"], env=SHELL_ENV) as term:
        await term.expect_exact(PROMPT, timeout=JOB_TIMEOUT)
        await term.send_line("set -b")  # report a job's change of state at once
        await term.expect_exact(PROMPT, timeout=JOB_TIMEOUT)
        await term.send_line("sh -c 'read line' &")
        notice = await term.expect(rb"\[1\]\+ +Stopped.* +sh -c 'read line'", timeout=JOB_TIMEOUT)
        assert notice.index == 0
        # wait on a stopped job returns 128 + the signal that stopped it.
        await term.send_line("wait %1; echo status=$?")
        await term.expect_exact(f"status={128 + signal.SIGTTIN}\r\n", timeout=JOB_TIMEOUT)
        await term.expect_exact(PROMPT, timeout=JOB_TIMEOUT)
        # In the foreground the same read goes through.
        await term.send_line("fg")
        await term.expect_exact("sh -c 'read line'\r\n", timeout=JOB_TIMEOUT)
        await term.send_line("typed")
        await term.expect_exact(PROMPT, timeout=JOB_TIMEOUT)
        await term.send_line("echo status=$?")
        await term.expect_exact("status=0\r\n", timeout=JOB_TIMEOUT)
        await term.send_line("exit")
        assert (await term.wait()).code == 0


async def test_ctrl_z_does_not_stop_a_program_started_directly() -> None:
    # The child is the leader of its own session and its group has no parent in that
    # session: an orphaned process group, whose terminal stop signals the kernel discards.
    argv = ["sh", "-c", 'echo READY; read line; echo "got $line"']
    async with open_pty(argv) as term:
        await term.expect_exact("READY\r\n", timeout=JOB_TIMEOUT)
        await term.send(b"\x1a")
        await term.send_line("after")
        await term.expect_exact("got after\r\n", timeout=JOB_TIMEOUT)
        assert (await term.wait()).code == 0


async def test_env_replaces_the_environment() -> None:
    async with open_pty(["/usr/bin/env"], env={"ONLY": "this one", "LANG": "C"}) as term:
        output = sorted([line async for line in term.lines()])
        assert output == [b"LANG=C", b"ONLY=this one"]
        assert (await term.wait()).code == 0


async def test_a_child_that_ignores_sighup_is_killed_and_reaped() -> None:
    argv = ["sh", "-c", "trap '' HUP TERM; echo READY; while :; do sleep 1; done"]
    async with open_pty(argv, grace=0.1) as term:
        await term.expect("READY")
    assert term.returncode == -signal.SIGKILL


async def test_open_pty_with_cwd(tmp_path: Path) -> None:
    async with open_pty(["pwd"], cwd=tmp_path) as term:
        assert await term.readline() == str(tmp_path).encode()
        assert (await term.wait()).code == 0


async def test_await_open_pty_then_aclose() -> None:
    term = await open_pty(program("ready"))
    try:
        await term.expect("READY")
        assert term.pid > 0
    finally:
        await term.aclose()
    assert term.returncode == -signal.SIGHUP
    with pytest.raises(anyio.ClosedResourceError):
        term.resize(10, 10)


async def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="argument list"):
        open_pty("ls -l")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rows"):
        open_pty(["true"], rows=0)
    with pytest.raises(ValueError, match="cols"):
        open_pty(["true"], cols=70000)
    with pytest.raises(TypeError, match="echo"):
        open_pty(["true"], echo="no")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="no-such-program"):
        async with open_pty(["no-such-program-xyz"]):
            pass
    with pytest.raises(OSError, match="cwd"):
        async with open_pty(["true"], cwd=tmp_path / "missing"):
            pass
    async with open_pty(["cat"]) as term:
        with pytest.raises(TypeError, match="compiled str regex"):
            await term.expect(re.compile("x"))  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="literal"):
            await term.expect_exact(re.compile(b"x"))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="empty"):
            await term.expect(b"")
        with pytest.raises(ValueError, match="empty list"):
            await term.expect([])
        with pytest.raises(ValueError, match="not a valid regex"):
            await term.expect("(")
        with pytest.raises(ValueError, match="timeout"):
            await term.expect("x", timeout=-1)
        with pytest.raises(ValueError, match="rows"):
            term.resize(0, 10)


# interact(): a driver program on an outer pty bridges it to an inner one.

DRIVER = str(Path(__file__).resolve().parent / "pty_interact_driver.py")


def running_loop_name() -> str:
    """The --loop name of the loop this test runs on, for the driver to use too."""
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.startswith("uvloop") else "asyncio"


async def test_interact_bridges_both_ways_follows_the_size_and_restores() -> None:
    driver = [sys.executable, DRIVER, running_loop_name(), *program("winsize")]
    async with open_pty(driver, rows=33, cols=77) as outer:
        await outer.expect_exact("SIZE 33 77")  # our size was copied to the inner pty
        outer.resize(40, 90)  # SIGWINCH to the driver, which resizes the inner pty
        await outer.expect_exact("SIZE 40 90")
        await outer.send(b"hello\r")  # raw: the \r reaches the inner pty as typed
        await outer.expect_exact(b"hello\r\n")  # echoed by the inner terminal
        await outer.send(b"\x1d")
        await outer.expect_exact("ESCAPED True RESTORED True")
        assert (await outer.wait()).code == 0


async def test_interact_ends_when_the_child_output_ends() -> None:
    driver = [sys.executable, DRIVER, running_loop_name(), "echo", "bye"]
    async with open_pty(driver) as outer:
        await outer.expect_exact("bye")
        await outer.expect_exact("ESCAPED False RESTORED True")
        assert (await outer.wait()).code == 0


async def test_interact_cancelled_restores_the_terminal() -> None:
    driver = [sys.executable, DRIVER, running_loop_name(), *program("winsize")]
    async with open_pty(driver, rows=20, cols=60) as outer:
        await outer.expect_exact("SIZE 20 60")  # interact() is running
        outer.send_signal(signal.SIGUSR1)
        await outer.expect_exact("CANCELLED RESTORED True")
        assert (await outer.wait()).code == 0


async def test_interact_needs_a_terminal() -> None:
    read_fd, write_fd = os.pipe()
    try:
        async with open_pty(["cat"]) as term:
            with pytest.raises(OSError, match="not a tty") as caught:
                await term.interact(input_fd=read_fd)
            assert caught.value.errno == errno.ENOTTY
            with pytest.raises(ValueError, match="escape"):
                await term.interact(escape=b"ab")
    finally:
        os.close(read_fd)
        os.close(write_fd)
