"""Run examples/daemons/daemon.py for real, on both loops.

Its log is a FIFO the test reads (opened first, non-blocking), so every step waits for
the daemon's own line instead of sleeping.  The daemon is not our child: it is signalled
and awaited through a pidfd.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "daemons" / "daemon.py"
TIMEOUT = 20


class Log:
    """Lines from a FIFO, read without blocking the test forever."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self.buffer = b""

    def readline(self) -> str:
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while b"\n" not in self.buffer:
            assert poller.poll(TIMEOUT * 1000), f"no line from the daemon: {self.buffer!r}"
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return self.buffer.decode()  # EOF: the daemon closed its log
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    reader = Log(tmp_path / "log")
    try:
        yield reader
    finally:
        os.close(reader.fd)


def start(loop: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "--pidfile",
            str(tmp_path / "d.pid"),
            "--log",
            str(tmp_path / "log"),
            "--config",
            str(tmp_path / "d.conf"),
            "--loop",
            loop,
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def wait_gone(pidfd: int) -> bool:
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(TIMEOUT * 1000))


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_daemon_example(loop: str, tmp_path: Path, log: Log) -> None:
    config = tmp_path / "d.conf"
    config.write_text("hello\n")
    pidfile = tmp_path / "d.pid"
    first = start(loop, tmp_path)
    assert first.returncode == 0, first.stderr
    assert (first.stdout, first.stderr) == ("", "")
    pid = int(pidfile.read_text())
    pidfd = os.pidfd_open(pid)
    try:
        assert log.readline() == f"started as pid {pid}: hello"

        second = start(loop, tmp_path)
        assert second.returncode == 1
        assert second.stderr == (
            f"{EXAMPLE}: already running as pid {pid}: pidfile {pidfile} is locked by that "
            "process\n"
        )

        config.write_text("bonjour\n")
        signal.pidfd_send_signal(pidfd, signal.SIGHUP)
        assert log.readline() == "reloaded: bonjour"
        config.unlink()
        signal.pidfd_send_signal(pidfd, signal.SIGHUP)
        assert log.readline().startswith("reload failed, keeping 'bonjour': [Errno 2]")

        signal.pidfd_send_signal(pidfd, signal.SIGTERM)
        assert log.readline() == "stopping"
        assert wait_gone(pidfd), f"daemon {pid} still runs {TIMEOUT} s after SIGTERM"
        assert log.readline() == ""  # EOF: nobody holds the log open
        assert not pidfile.exists()
    finally:
        if not wait_gone_now(pidfd):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            wait_gone(pidfd)
        os.close(pidfd)


def wait_gone_now(pidfd: int) -> bool:
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))
