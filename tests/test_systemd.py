"""aioipc.systemd against a fake service manager (tests/fake_service_manager.py).

No systemd is needed: the tests bind the notification socket a manager would bind,
start the service programs with the environment a manager would give them (and the
listening sockets as fds 3, 4 for socket activation), and check what they say.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_service_manager import NotifySocket, notify_socket, start_service

import aioipc
import aioipc.systemd

HERE = Path(__file__).resolve().parent
PROGRAM = HERE / "systemd_service_program.py"


def loop_name() -> str:
    import uvloop

    return "uvloop" if isinstance(asyncio.get_running_loop(), uvloop.Loop) else "asyncio"


def program(mode: str) -> list[str]:
    return [sys.executable, str(PROGRAM), mode, loop_name()]


@pytest.fixture(params=["path", "abstract"])
async def manager(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[NotifySocket]:
    path = tmp_path / "notify" if request.param == "path" else None
    async with notify_socket(path) as sock:
        yield sock


async def readline(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    async with asyncio.timeout(20):
        line = await proc.stdout.readline()
    assert line, "the service closed its stdout"
    return line.decode().rstrip("\n")


# ---------------------------------------------------------------- notify


async def test_a_service_reports_ready_reloading_and_stopping(manager: NotifySocket) -> None:
    async with start_service(program("notify"), notify=manager) as proc:
        assert await manager.receive() == {"READY": "1", "STATUS": "up and running"}
        reloading = await manager.receive()
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert set(reloading) == {"RELOADING", "MONOTONIC_USEC"}
        assert reloading["RELOADING"] == "1"
        # The child read the clock before it sent; we read it after receiving: the same
        # clock, machine-wide.
        assert 0 < int(reloading["MONOTONIC_USEC"]) <= after
        assert await manager.receive() == {"STOPPING": "1", "STATUS": "bye"}
        assert [await readline(proc) for _ in range(3)] == ["True", "True", "True"]
        assert await proc.wait() == 0


async def test_notify_without_a_manager_returns_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert aioipc.systemd.notify(READY=1) is False
    assert aioipc.systemd.notify_socket_address() is None
    monkeypatch.setenv("NOTIFY_SOCKET", "")
    assert aioipc.systemd.notify(READY=1) is False


async def test_notify_in_process_sends_one_datagram_in_order(
    manager: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", manager.address)
    assert aioipc.systemd.notify(STATUS="a=b c", READY=1, MAINPID=os.getpid()) is True
    datagram = manager.sock.recv(1024)
    assert datagram == f"STATUS=a=b c\nREADY=1\nMAINPID={os.getpid()}".encode()
    # An explicit MONOTONIC_USEC is kept as given.
    aioipc.systemd.notify(RELOADING=1, MONOTONIC_USEC=5)
    assert await manager.receive() == {"RELOADING": "1", "MONOTONIC_USEC": "5"}


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        ({}, ValueError, "at least one field"),
        ({"STATUS": "two\nlines"}, ValueError, "STATUS=.*newline"),
        ({"STATUS": "nul\0"}, ValueError, "newline or NUL"),
        ({"ready": 1}, ValueError, "'ready' is not an upper-case name"),
        ({"READY": True}, TypeError, "READY must be a str or an int, not bool"),
        ({"READY": 1.0}, TypeError, "not float"),
    ],
)
async def test_bad_fields_raise_even_without_a_manager(
    fields: dict[str, object],
    error: type[Exception],
    match: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    with pytest.raises(error, match=match):
        aioipc.systemd.notify(**fields)  # type: ignore[arg-type]


async def test_a_vanished_socket_raises_notify_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gone"
    async with notify_socket(path):
        pass  # bound, then closed and unlinked: the manager went away
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    with pytest.raises(aioipc.systemd.NotifyError, match="gone") as caught:
        aioipc.systemd.notify(READY=1)
    assert isinstance(caught.value, OSError)
    assert isinstance(caught.value, aioipc.IPCError)
    assert caught.value.errno == errno.ENOENT
    assert caught.value.socket == str(path)
    monkeypatch.setenv("NOTIFY_SOCKET", "@aioipc-test-nobody-listens-here")
    with pytest.raises(aioipc.systemd.NotifyError, match="nobody-listens") as caught:
        aioipc.systemd.notify(READY=1)
    assert caught.value.errno == errno.ECONNREFUSED


async def test_a_malformed_notify_socket_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    with pytest.raises(aioipc.systemd.NotifyError, match="neither an absolute path"):
        aioipc.systemd.notify(READY=1)


# ---------------------------------------------------------------- watchdog


async def test_the_watchdog_pings_at_half_the_interval(manager: NotifySocket) -> None:
    env = {"WATCHDOG_USEC": "100000"}  # 0.1 s: a ping every 50 ms
    async with start_service(program("watchdog"), notify=manager, env=env) as proc:
        assert await readline(proc) == "0.1"
        for _ in range(3):
            assert await manager.receive() == {"WATCHDOG": "1"}
        assert await readline(proc) == "watching 0.1"
        assert proc.stdin is not None
        proc.stdin.close()
        assert await proc.wait() == 0


@pytest.mark.parametrize("usec", [100_000, 7_340_001, 30_000_000])
async def test_the_watchdog_waits_half_of_watchdog_usec_between_pings(
    manager: NotifySocket, monkeypatch: pytest.MonkeyPatch, usec: int
) -> None:
    # The period is read from what the ping task asks its sleep function for, not from
    # a clock: the recorder answers at once for two periods, then holds the task.
    import aioipc._sd_notify

    monkeypatch.setenv("NOTIFY_SOCKET", manager.address)
    monkeypatch.setenv("WATCHDOG_USEC", str(usec))
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    periods: list[float] = []
    held = asyncio.get_running_loop().create_future()

    async def recording_sleep(delay: float) -> None:
        periods.append(delay)
        if len(periods) > 2:
            await held  # cancelled when the block is left

    monkeypatch.setattr(aioipc._sd_notify, "_sleep", recording_sleep)
    assert aioipc.systemd.watchdog_interval() == usec / 1_000_000
    async with aioipc.systemd.watchdog() as interval:
        assert interval == usec / 1_000_000
        for _ in range(3):  # on entry, then after each of the two periods
            assert await manager.receive() == {"WATCHDOG": "1"}
        # Each ping and the sleep after it happen in one step of the task.
        assert periods == [usec / 2_000_000] * 3
    assert held.cancelled()  # leaving the block cancelled the task where it was held
    with pytest.raises(BlockingIOError):
        manager.sock.recv(1024)  # no ping while the task was held, none after the block


async def test_the_watchdog_of_another_pid_is_not_ours(manager: NotifySocket) -> None:
    env = {"WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"}
    async with start_service(program("watchdog"), notify=manager, env=env) as proc:
        assert await readline(proc) == "None"
        assert await readline(proc) == "watching None"
        assert proc.stdin is not None
        proc.stdin.close()
        assert await proc.wait() == 0
    with pytest.raises(BlockingIOError):
        manager.sock.recv(1024)  # not one ping was sent


async def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert aioipc.systemd.watchdog_interval() is None
    async with aioipc.systemd.watchdog() as interval:
        assert interval is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert aioipc.systemd.watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert aioipc.systemd.watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_USEC", "soon")
    with pytest.raises(ValueError, match="WATCHDOG_USEC='soon'"):
        aioipc.systemd.watchdog_interval()
    monkeypatch.setenv("WATCHDOG_PID", "me")
    with pytest.raises(ValueError, match="WATCHDOG_PID='me'"):
        aioipc.systemd.watchdog_interval()


# ---------------------------------------------------------------- socket activation


async def test_socket_activation_serves_tcp_and_unix(
    manager: NotifySocket, tmp_path: Path
) -> None:
    tcp = socket.create_server(("127.0.0.1", 0))
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = tmp_path / "app.sock"
    try:
        unix.bind(str(path))
        unix.listen()
        listen = [("web", tcp), ("control", unix)]
        async with start_service(program("listen"), notify=manager, listen=listen) as proc:
            ready = await manager.wait_for("READY", "1")
            assert ready["STATUS"] == "serving web,control"
            assert await readline(proc) == "web 3 AF_INET SOCK_STREAM"
            assert await readline(proc) == "control 4 AF_UNIX SOCK_STREAM"
            assert await readline(proc) == "environment cleared: True"
            port = tcp.getsockname()[1]
            for address, expected in [
                (f"tcp://127.0.0.1:{port}", "web: hello"),
                (f"unix:{path}", "control: hello"),
            ]:
                async with await aioipc.connect(address) as stream:
                    await stream.send_line("hello")
                    assert (await stream.readline()).decode() == expected
            assert proc.stdin is not None
            proc.stdin.close()
            assert await proc.wait() == 0
    finally:
        tcp.close()
        unix.close()
        path.unlink(missing_ok=True)


def clear_listen_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        monkeypatch.delenv(name, raising=False)


async def test_listen_fds_meant_for_another_process_are_not_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clear_listen_env(monkeypatch)
    assert aioipc.systemd.listen_fds() == []
    monkeypatch.setenv("LISTEN_PID", str(os.getppid()))
    monkeypatch.setenv("LISTEN_FDS", "2")
    assert aioipc.systemd.listen_fds(unset_environment=False) == []
    assert os.environ["LISTEN_FDS"] == "2"
    assert aioipc.systemd.listen_fds_with_names() == []
    assert "LISTEN_FDS" not in os.environ
    assert "LISTEN_PID" not in os.environ


@pytest.mark.parametrize(
    ("variables", "match"),
    [
        ({"LISTEN_PID": "x", "LISTEN_FDS": "1"}, "LISTEN_PID='x' is not a positive integer"),
        ({"LISTEN_FDS": "-1"}, "LISTEN_FDS='-1' is not a positive integer"),
        ({"LISTEN_FDS": "2", "LISTEN_FDNAMES": "a:b:c"}, "names 3 fds but LISTEN_FDS=2"),
    ],
)
async def test_malformed_listen_variables_raise(
    variables: dict[str, str], match: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_listen_env(monkeypatch)
    monkeypatch.setenv("LISTEN_PID", str(os.getpid()))
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=match):
        aioipc.systemd.listen_fds()
    assert "LISTEN_PID" not in os.environ  # unset even so, as sd_listen_fds does


async def test_an_activated_fd_that_is_not_a_socket_is_refused(manager: NotifySocket) -> None:
    read_end, write_end = os.pipe()
    try:
        async with start_service(
            program("listen"),
            notify=manager,
            listen=[("web", read_end)],
            stderr=asyncio.subprocess.PIPE,
        ) as proc:
            assert proc.stderr is not None
            async with asyncio.timeout(20):
                errors = (await proc.stderr.read()).decode()
            assert await proc.wait() == 1
    finally:
        os.close(read_end)
        os.close(write_end)
    assert "ValueError: fd 3 ('web') passed by the service manager is not a socket" in errors


# ---------------------------------------------------------------- the example

EXAMPLE = HERE.parent / "examples" / "systemd" / "notify_service.py"


async def test_the_example_service_under_the_fake_manager(
    manager: NotifySocket, tmp_path: Path
) -> None:
    config = tmp_path / "greet.conf"
    config.write_text("greeting = hello\n")
    tcp = socket.create_server(("127.0.0.1", 0))
    port = tcp.getsockname()[1]
    argv = [sys.executable, str(EXAMPLE), str(config), "--loop", loop_name()]
    env = {"WATCHDOG_USEC": "200000"}
    try:
        async with start_service(argv, notify=manager, listen=[("web", tcp)], env=env) as proc:
            ready = await manager.wait_for("READY", "1")
            assert ready["STATUS"] == f"serving on tcp://127.0.0.1:{port}"
            assert await readline(proc) == f"READY tcp://127.0.0.1:{port}"

            async def ask(line: str) -> str:
                async with await aioipc.connect(f"tcp://127.0.0.1:{port}") as stream:
                    await stream.send_line(line)
                    return (await stream.readline()).decode()

            assert await ask("world") == "hello, world"
            config.write_text("greeting = bonjour\n")
            proc.send_signal(signal.SIGHUP)
            reloading = await manager.wait_for("RELOADING", "1")
            assert int(reloading["MONOTONIC_USEC"]) > 0
            again = await manager.wait_for("READY", "1")
            assert again["STATUS"].endswith("configuration reloaded")
            assert await readline(proc) == again["STATUS"]
            assert await ask("monde") == "bonjour, monde"
            while sum("WATCHDOG" in m for m in manager.messages) < 2:
                await manager.receive()
            proc.send_signal(signal.SIGTERM)
            assert (await manager.wait_for("STOPPING", "1"))["STATUS"] == "stopping"
            assert await proc.wait() == 0
    finally:
        tcp.close()


async def test_the_example_service_without_a_manager(tmp_path: Path) -> None:
    config = tmp_path / "greet.conf"
    config.write_text("greeting = hi\n")
    path = tmp_path / "greet.sock"
    argv = [sys.executable, str(EXAMPLE), str(config), "--address", f"unix:{path}"]
    async with start_service([*argv, "--loop", loop_name()]) as proc:
        assert await readline(proc) == f"READY unix:{path}"
        async with await aioipc.connect(f"unix:{path}") as stream:
            await stream.send_line("there")
            assert await stream.readline() == b"hi, there"
        proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0
    assert not path.exists()
