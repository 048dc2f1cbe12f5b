"""A stand-in for systemd in tests: the notification socket and socket activation.

* :class:`NotifySocket` binds the Unix datagram socket a manager would put in
  ``$NOTIFY_SOCKET`` (a path under the test's directory, or an abstract name) and
  receives and parses what services say on it.
* :func:`start_service` starts a program as a manager starts a service: with
  ``NOTIFY_SOCKET`` set and, for socket activation, the given listening sockets as fds
  3, 4, … with ``LISTEN_FDS``, ``LISTEN_PID`` (the program's own pid, set after the fork
  by ``tests/socket_activate.py``) and ``LISTEN_FDNAMES``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACTIVATE = HERE / "socket_activate.py"
TIMEOUT = 20


def parse(datagram: bytes) -> dict[str, str]:
    """``b"READY=1\\nSTATUS=up"`` → ``{"READY": "1", "STATUS": "up"}``, strictly."""
    fields: dict[str, str] = {}
    for line in datagram.decode().split("\n"):
        name, sep, value = line.partition("=")
        assert sep, f"not an assignment: {line!r} in {datagram!r}"
        assert name, f"an empty name: {line!r} in {datagram!r}"
        fields[name] = value
    return fields


class NotifySocket:
    """The manager's end of ``$NOTIFY_SOCKET``: a bound Unix datagram socket."""

    def __init__(self, path: Path | None = None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.setblocking(False)
        self.path = path
        if path is None:
            self.sock.bind(f"\0aioipc-test-notify-{os.getpid()}-{id(self)}")
            name = self.sock.getsockname()
            assert isinstance(name, bytes)
            self.address = "@" + name[1:].decode()
        else:
            self.sock.bind(str(path))
            self.address = str(path)
        self.messages: list[dict[str, str]] = []

    def close(self) -> None:
        self.sock.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    async def receive(self) -> dict[str, str]:
        """The next message, parsed; fails after ``TIMEOUT`` seconds of silence."""
        async with asyncio.timeout(TIMEOUT):
            datagram = await asyncio.get_running_loop().sock_recv(self.sock, 65536)
        message = parse(datagram)
        self.messages.append(message)
        return message

    async def wait_for(self, name: str, value: str | None = None) -> dict[str, str]:
        """Receive until a message has field ``name`` (equal to ``value`` if given)."""
        while True:
            message = await self.receive()
            if name in message and (value is None or message[name] == value):
                return message


@asynccontextmanager
async def notify_socket(path: Path | None = None) -> AsyncIterator[NotifySocket]:
    """A :class:`NotifySocket` at ``path`` (abstract if ``None``), closed on exit."""
    manager = NotifySocket(path)
    try:
        yield manager
    finally:
        manager.close()


@asynccontextmanager
async def start_service(
    argv: Sequence[str],
    *,
    notify: NotifySocket | None = None,
    listen: Sequence[tuple[str, socket.socket | int]] = (),
    env: Mapping[str, str] | None = None,
    stderr: int | None = None,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start ``argv`` as a service; on exit SIGTERM it if still running and reap it.

    stdin and stdout are pipes (the program may print ``READY``-style lines, and
    closing stdin may be its cue to stop); stderr is inherited, for diagnostics, unless
    ``stderr`` says otherwise.  ``listen`` entries are sockets or plain fds (to pass
    something that is not a socket on purpose).
    """
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LISTEN_", "WATCHDOG_", "NOTIFY_SOCKET"))
    }
    if notify is not None:
        environment["NOTIFY_SOCKET"] = notify.address
    environment.update(env or {})
    command = list(argv)
    fds = [sock if isinstance(sock, int) else sock.fileno() for _, sock in listen]
    if listen:
        environment["LISTEN_FDNAMES"] = ":".join(name for name, _ in listen)
        command = [sys.executable, str(ACTIVATE), *map(str, fds), "--", *command]
    proc = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
        env=environment,
        pass_fds=fds,
    )
    try:
        yield proc
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        try:
            async with asyncio.timeout(TIMEOUT):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if proc.stdout is not None:
            async with asyncio.timeout(TIMEOUT):
                await proc.stdout.read()
