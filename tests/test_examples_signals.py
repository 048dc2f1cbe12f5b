"""Run every program in examples/signals/ as a real subprocess, on the test's loop kind.

Each example prints READY once its handlers are installed; the test signals it only
after reading that line, and reaps every process it starts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import uvloop

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "signals"
TIMEOUT = 20


def loop_name() -> str:
    """The example runs on the same kind of loop as the test."""
    return "uvloop" if isinstance(asyncio.get_running_loop(), uvloop.Loop) else "asyncio"


class Example:
    """A running example program with line-oriented access to its stdout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    async def readline(self) -> str:
        assert self.proc.stdout is not None
        line = (await self.proc.stdout.readline()).decode()
        assert line, f"EOF from the example; output so far: {self.lines}"
        self.lines.append(line.rstrip("\n"))
        return self.lines[-1]

    async def expect(self, prefix: str) -> str:
        line = await self.readline()
        assert line.startswith(prefix), f"expected {prefix!r}, got {line!r}"
        return line

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")

    async def finish(self) -> str:
        """Read the rest of stdout, wait for the exit, return the rest."""
        assert self.proc.stdout is not None
        rest = (await self.proc.stdout.read()).decode()
        assert await self.proc.wait() == 0, f"exit status {self.proc.returncode}"
        return rest


@asynccontextmanager
async def example(
    name: str, *args: str, stdin: bool = False, new_session: bool = False
) -> AsyncIterator[Example]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / f"{name}.py"),
        "--loop",
        loop_name(),
        *args,
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=new_session,
    )
    try:
        async with asyncio.timeout(TIMEOUT):
            yield Example(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()


def test_every_example_is_tested() -> None:
    tested = {
        "alarm_timeout",
        "catch_int",
        "group_hup",
        "liveness",
        "sighup_reexec",
        "sighup_reload",
    }
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


async def test_catch_int() -> None:
    async with example("catch_int", "--times", "3") as ex:
        await ex.expect("READY")
        for count in (1, 2, 3):
            ex.proc.send_signal(signal.SIGINT)
            assert await ex.readline() == f"Somebody sent me a SIGINT ({count} of 3)"
        assert await ex.finish() == "Outta here!\n"


async def test_sighup_reload_in_place(tmp_path: Path) -> None:
    config = tmp_path / "daemon.conf"
    config.write_text("greeting = hello  # first version\n")
    async with example("sighup_reload", str(config), stdin=True) as ex:
        assert await ex.readline() == "config: greeting=hello"
        await ex.expect("READY")
        ex.send("start early")
        assert await ex.readline() == "job early started"

        config.write_text("greeting = bonjour\ncolour = blue\n")
        ex.proc.send_signal(signal.SIGHUP)
        assert await ex.readline() == "reloaded on SIGHUP: colour=blue, greeting=bonjour"

        ex.send("start late")
        assert await ex.readline() == "job late started"
        ex.send("finish early")  # in-flight work kept the configuration it started with
        assert await ex.readline() == "job early done with greeting=hello"
        ex.send("finish late")
        assert await ex.readline() == "job late done with colour=blue, greeting=bonjour"

        config.write_text("this line is not key = value\nbroken\n")
        ex.proc.send_signal(signal.SIGHUP)
        await ex.expect("reload failed, keeping the old config")
        ex.send("start third")
        assert await ex.readline() == "job third started"
        ex.send("finish third")
        assert await ex.readline() == "job third done with colour=blue, greeting=bonjour"

        assert ex.proc.stdin is not None
        ex.proc.stdin.close()
        assert await ex.finish() == "stdin closed; bye\n"


async def test_sighup_reexec_preserves_pid_and_arguments() -> None:
    async with example("sighup_reexec", "--tick", "0", "alpha", "beta gamma") as ex:
        pid = ex.proc.pid
        for generation in (1, 2, 3):
            assert await ex.readline() == f"PID: {pid}"
            assert await ex.readline() == "ARGV: ['alpha', 'beta gamma']"
            assert await ex.readline() == f"generation {generation}"
            await ex.expect("READY")
            if generation < 3:
                ex.proc.send_signal(signal.SIGHUP)
                assert await ex.readline() == "got SIGHUP; restarting"
        ex.proc.send_signal(signal.SIGTERM)
        assert await ex.finish() == "got SIGTERM; exiting\n"


async def test_group_hup_signals_the_group_but_not_itself() -> None:
    # Its own session, so that the group it signals holds only it and its children.
    async with example("group_hup", "--children", "2", new_session=True) as ex:
        waiting = {await ex.readline(), await ex.readline()}
        assert {line.split(" (pid")[0] for line in waiting} == {"child 1", "child 2"}
        await ex.expect("READY: group")
        rest = await ex.finish()
    assert rest.splitlines() == [
        "parent: sent SIGHUP to the group and ignored it",
        "child 1 got SIGHUP",
        "child 2 got SIGHUP",
        "parent: children exited with [0, 0]",
    ]


async def test_liveness() -> None:
    async with example("liveness") as ex:
        await ex.expect("READY")
        rest = await ex.finish()
    states = [(line.split(" (pid")[0], line.rsplit(": ", 1)[1]) for line in rest.splitlines()]
    assert states == [
        ("this process", "alive"),
        ("running child", "alive"),
        ("reaped child", "dead"),
        ("zombie child", "alive"),
        ("zombie child after waitpid", "dead"),
        ("init", "alive"),
    ]
    assert f"(pid {os.getpid()})" not in rest  # it reported on itself, not on us


@pytest.mark.parametrize("how", ["timeout", "alarm"])
async def test_alarm_timeout(how: str) -> None:
    args = ["--seconds", "0.05"] + (["--alarm"] if how == "alarm" else [])
    async with example("alarm_timeout", *args) as ex:
        await ex.expect("READY")
        rest = await ex.finish()
    expected = "alarm clock restart" if how == "alarm" else "asyncio.timeout() expired"
    assert rest == f"timed out: {expected}\n"
