"""Run socket programs (aioipc's examples, perlipc's Perl programs) as real subprocesses.

A server is started with :class:`Program`, which reads its stdout line by line until
the line that says it is ready (so a test never sleeps to wait for a listener), and
stops it by its pid with :meth:`Program.stop`.  Clients run to completion with
:func:`run_example`.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "sockets"
PERL_PROGRAMS = Path(__file__).resolve().parent / "interop" / "perl"
TIMEOUT = 20
LOOPS = ["asyncio", "uvloop"]


def example(name: str, loop: str, *args: str) -> list[str]:
    """The argv that runs ``examples/sockets/<name>.py --loop <loop> ARGS``."""
    return [sys.executable, str(EXAMPLES / f"{name}.py"), "--loop", loop, *args]


def run_example(
    name: str, loop: str, *args: str, input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run an example to its end (with a timeout) and return what it wrote."""
    return subprocess.run(
        example(name, loop, *args),
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[bytes]) -> str:
    """The stdout of a run that exited 0 and wrote nothing on stderr."""
    assert result.returncode == 0, (
        f"exit status {result.returncode}; stderr:\n{result.stderr.decode()}\n"
        f"stdout:\n{result.stdout.decode()}"
    )
    assert result.stderr == b"", f"stderr:\n{result.stderr.decode()}"
    return result.stdout.decode()


def unused_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> tuple[socket.socket, int]:
    """A loopback socket bound to a free port that nobody listens (or answers) on.

    Keep the socket open while the port is in use, so no other test can take the port.
    """
    sock = socket.socket(socket.AF_INET, kind)
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


class Program:
    """A server program run as a subprocess: read its output until it is ready, stop it.

    Used as a context manager; leaving the block kills the program if it still runs,
    and reaps it.
    """

    def __init__(self, argv: Sequence[str], *, cwd: Path | None = None) -> None:
        self.argv = list(argv)
        self.process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
        )
        assert self.process.stdout is not None
        self._stdout = self.process.stdout
        self._pending = b""
        self.lines: list[str] = []  # every line read so far
        self.stdout = ""
        self.stderr = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def readline(self, timeout: float = TIMEOUT) -> str:
        """The next line of the program's stdout, without its newline."""
        fd = self._stdout.fileno()
        while b"\n" not in self._pending:
            ready, _, _ = select.select([fd], [], [], timeout)
            assert ready, f"{self.argv}: no output line within {timeout} s"
            chunk = os.read(fd, 65536)
            if not chunk:
                stderr = self.process.stderr.read() if self.process.stderr else b""
                raise AssertionError(
                    f"{self.argv} ended its output (status {self.process.wait()}) "
                    f"without the line expected; stderr:\n{stderr.decode()}\n"
                    f"lines: {self.lines}"
                )
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        text = line.decode()
        self.lines.append(text)
        return text

    def wait_for(self, pattern: str) -> re.Match[str]:
        """Read lines until one matches ``pattern`` (fully) and return the match."""
        while True:
            match = re.fullmatch(pattern, self.readline())
            if match:
                return match

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` to the program by its pid, collect its output and its status."""
        self.process.send_signal(sig)
        return self.finish()

    def finish(self) -> int:
        """Wait for the program to end on its own; keep the rest of its output."""
        out, err = self.process.communicate(timeout=TIMEOUT)
        rest = (self._pending + out).decode()
        self._pending = b""
        self.stdout = "\n".join([*self.lines, rest]) if self.lines else rest
        self.stderr = err.decode()
        return self.process.returncode

    def __enter__(self) -> Program:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


def port_of(address: str) -> int:
    """The port of a ``tcp://host:port`` or ``udp://host:port`` address."""
    return int(address.rsplit(":", 1)[1])
