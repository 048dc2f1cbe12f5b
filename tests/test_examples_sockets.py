"""Run every program in examples/sockets/ as a real subprocess, on both loops, with real peers.

Servers print a ``READY`` line with their bound address (port 0: the kernel picks)
before any client connects, and are stopped by their pid with SIGTERM, which each
handles by closing cleanly and exiting 0.  Clients and servers of one test run on the
same loop.  webget is also checked against a Python ``http.server`` and the system
``curl``.
"""

from __future__ import annotations

import re
import socket
import stat
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from socket_programs import (
    EXAMPLES,
    LOOPS,
    TIMEOUT,
    Program,
    example,
    port_of,
    run_example,
    succeeded,
    unused_port,
)

CTIME = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}"
DAYTIME = r"\w{3} \w{3} \d\d \d\d:\d\d:\d\d \S+ \d{4}"


def test_every_example_is_tested() -> None:
    tested = {
        "tcp_client",
        "tcp_server",
        "forking_server",
        "time_client",
        "unix_client",
        "unix_server",
        "daytime_client",
        "webget",
        "interactive_client",
        "command_server",
        "udp_time_query",
        "time_server",
        "fd_handoff",  # tests/test_examples_fd_passing.py
    }
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


def start(name: str, loop: str, *args: str, cwd: Path | None = None) -> Program:
    return Program(example(name, loop, *args), cwd=cwd)


def read_to_eof(port: int) -> bytes:
    """Connect a plain blocking client and read until the server hangs up."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    return data


# -- the Internet TCP client and server ------------------------------------------------


@pytest.mark.parametrize("loop", LOOPS)
def test_tcp_server_and_client(loop: str) -> None:
    with start("tcp_server", loop, "--host", "127.0.0.1", "0") as server:
        port = port_of(server.wait_for(r"READY (tcp://127\.0\.0\.1:\d+)").group(1))
        # A name that resolves to ::1 and 127.0.0.1 (the server listens on the latter).
        for host in ("127.0.0.1", "localhost"):
            out = succeeded(run_example("tcp_client", loop, host, str(port)))
            assert re.fullmatch(rf"Hello there, localhost, it's now {CTIME}\n", out), out
        # The line went out with perlipc's $EOL, "\015\012".
        raw = read_to_eof(port)
        assert re.fullmatch(rf"Hello there, localhost, it's now {CTIME}\r\n".encode(), raw)
        assert server.stop() == 0, server.stderr
    assert server.stderr == ""
    prefix = rf"\S*tcp_server\.py {server.pid}: "
    started, ready, *connections = server.stdout.splitlines()
    assert re.fullmatch(rf"{prefix}server started on port {port} at {CTIME}", started)
    assert ready == f"READY tcp://127.0.0.1:{port}"
    assert len(connections) == 3
    for line in connections:
        assert re.fullmatch(
            rf"{prefix}connection from localhost \[127\.0\.0\.1\] at port \d+ at {CTIME}", line
        ), line


@pytest.mark.parametrize("loop", LOOPS)
def test_tcp_client_refused(loop: str) -> None:
    sock, port = unused_port()
    with sock:
        result = run_example("tcp_client", loop, "127.0.0.1", str(port))
    assert result.returncode == 1
    assert result.stdout == b""
    assert f"tcp_client: [Errno 111] connect to tcp://127.0.0.1:{port}" in result.stderr.decode()


@pytest.mark.parametrize("loop", LOOPS)
def test_tcp_client_bad_port(loop: str) -> None:
    result = run_example("tcp_client", loop, "127.0.0.1", "no-such-service")
    assert result.returncode == 1
    assert "unknown tcp service 'no-such-service'" in result.stderr.decode()


@pytest.mark.parametrize("loop", LOOPS)
def test_tcp_server_port_in_use(loop: str) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    with listener, start("tcp_server", loop, str(listener.getsockname()[1])) as server:
        status = server.finish()
    assert status == 1
    assert "Address already in use" in server.stderr


# -- the forking server ----------------------------------------------------------------


@pytest.mark.parametrize("loop", LOOPS)
def test_forking_server(loop: str) -> None:
    with start("forking_server", loop, "--host", "127.0.0.1", "0") as server:
        port = port_of(server.wait_for(r"READY (tcp://127\.0\.0\.1:\d+)").group(1))
        out = succeeded(run_example("tcp_client", loop, "127.0.0.1", str(port)))
        hello, cookie = out.splitlines()
        assert re.fullmatch(rf"Hello there, localhost, it's now {CTIME}", hello)
        assert cookie
        # Three clients at once, each served by a child of its own, CRLF throughout.
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        for client in clients:
            with client, client.makefile("rb") as reader:
                lines = reader.readlines()
            assert len(lines) == 2
            assert all(line.endswith(b"\r\n") for line in lines)
        assert server.stop() == 0, server.stderr
    assert server.stderr == ""
    prefix = rf"\S*forking_server\.py {server.pid}: "
    began = re.findall(
        rf"^{prefix}connection from .*: began child (\d+) at {CTIME}$", server.stdout, re.MULTILINE
    )
    reaped = re.findall(rf"^{prefix}reaped child (\d+) at {CTIME}$", server.stdout, re.MULTILINE)
    assert len(began) == 4
    assert sorted(reaped) == sorted(began), "every child was reaped (the REAPER's job)"
    assert str(server.pid) not in began


# -- the Unix-domain client and server ---------------------------------------------------


@pytest.mark.parametrize("loop", LOOPS)
def test_unix_server_and_client(loop: str, tmp_path: Path) -> None:
    with start("unix_server", loop, cwd=tmp_path) as server:
        assert server.wait_for(r"READY (unix:\S+)").group(1) == "unix:catsock"
        catsock = tmp_path / "catsock"
        assert stat.S_ISSOCK(catsock.stat().st_mode)
        assert stat.S_IMODE(catsock.stat().st_mode) == 0o600
        # The default rendezvous, relative to the directory, and an absolute path.
        for args in ((), (str(catsock),)):
            result = subprocess.run(
                example("unix_client", loop, *args),
                cwd=tmp_path,
                capture_output=True,
                timeout=TIMEOUT,
                check=False,
            )
            hello, cookie = succeeded(result).splitlines()
            assert re.fullmatch(rf"Hello there, it's now {CTIME}", hello)
            assert cookie
        with socket.socket(socket.AF_UNIX) as raw:
            raw.connect(str(catsock))
            data = b""
            while chunk := raw.recv(4096):
                data += chunk
        assert data.count(b"\n") == 2
        assert b"\r" not in data, "Unix sockets need no network line terminators"
        assert server.stop() == 0, server.stderr
    assert not catsock.exists(), "the server removes its socket file"
    prefix = rf"\S*unix_server\.py {server.pid}: "
    assert re.search(rf"^{prefix}server started on catsock at {CTIME}$", server.stdout, re.M)
    began = re.findall(rf"^{prefix}.*began child (\d+)", server.stdout, re.M)
    reaped = re.findall(rf"^{prefix}reaped child (\d+)", server.stdout, re.M)
    assert len(began) == 3
    assert sorted(reaped) == sorted(began)


@pytest.mark.parametrize("loop", LOOPS)
def test_unix_server_refuses_a_file_in_its_place(loop: str, tmp_path: Path) -> None:
    # perlipc's server unlink()s whatever is at the path; aioipc only a stale socket.
    (tmp_path / "catsock").write_text("precious\n")
    with start("unix_server", loop, cwd=tmp_path) as server:
        status = server.finish()
    assert status == 1
    assert "FileExistsError" in server.stderr
    assert (tmp_path / "catsock").read_text() == "precious\n"


@pytest.mark.parametrize("loop", LOOPS)
def test_unix_client_without_server(loop: str, tmp_path: Path) -> None:
    result = run_example("unix_client", loop, str(tmp_path / "nobody"))
    assert result.returncode == 1
    assert "No such file or directory" in result.stderr.decode()


# -- the time server and its clients -----------------------------------------------------


def start_time_server(loop: str, *args: str) -> tuple[Program, dict[str, int]]:
    """Start time_server.py on free ports; map "time tcp" etc. to its ports."""
    server = start(
        "time_server",
        loop,
        "--host",
        "127.0.0.1",
        "--time-port",
        "0",
        "--daytime-port",
        "0",
        *args,
    )
    ports: dict[str, int] = {}
    while (line := server.readline()) != "READY":
        match = re.fullmatch(r"(time|daytime) (tcp|udp)://127\.0\.0\.1:(\d+)", line)
        assert match, line
        ports[f"{match[1]} {match[2]}"] = int(match[3])
    return server, ports


def offsets(out: str, width: int) -> list[tuple[str, int]]:
    """Parse the ``%-Ns %8d ctime`` lines of the time clients."""
    found = []
    for line in out.splitlines():
        match = re.fullmatch(rf"(.{{{width}}}) +(-?\d+) ({CTIME})", line)
        assert match, line
        found.append((match[1].rstrip(), int(match[2])))
    return found


@pytest.mark.parametrize("loop", LOOPS)
def test_time_client(loop: str) -> None:
    server, ports = start_time_server(loop)
    with server:
        port = str(ports["time tcp"])
        out = succeeded(run_example("time_client", loop, "--port", port, "127.0.0.1", "localhost"))
        hosts = offsets(out, 24)
        assert [host for host, _ in hosts] == ["localhost", "127.0.0.1", "localhost"]
        # The server's clock is ours: a wrong decoding would be off by years.
        assert all(abs(offset) <= 2 for _, offset in hosts)
        # 127.0.0.2 is loopback too, but nothing listens there: reported, and status 1.
        result = run_example("time_client", loop, "--port", port, "127.0.0.2", "127.0.0.1")
        assert result.returncode == 1
        lines = result.stdout.decode().splitlines()
        assert re.fullmatch(r"127\.0\.0\.2 +no time: .*Connect.*", lines[1]), lines
        assert offsets(lines[2], 24)[0][0] == "127.0.0.1"
        assert server.stop() == 0, server.stderr
    assert server.stderr == ""


@pytest.mark.parametrize("loop", LOOPS)
def test_time_client_short_answer(loop: str) -> None:
    # A "time server" that hangs up after two bytes: IncompleteRead, not garbage.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        client = subprocess.Popen(
            example("time_client", loop, "--port", str(port), "127.0.0.1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        connection, _ = listener.accept()
        with connection:
            connection.sendall(b"\x00\x01")
        out, err = client.communicate(timeout=TIMEOUT)
    assert client.returncode == 1, err
    assert re.search(rb"127\.0\.0\.1 +no time: .*after 2 of 4 expected bytes", out), out


@pytest.mark.parametrize("loop", LOOPS)
def test_daytime_client(loop: str) -> None:
    server, ports = start_time_server(loop, "--no-udp")
    with server:
        assert set(ports) == {"time tcp", "daytime tcp"}
        port = ports["daytime tcp"]
        # IO::Socket's "name(number)" form: the name is not in /etc/services, so the
        # number is used.
        for port_arg in (str(port), f"aioipc-test-daytime({port})"):
            args = ("--host", "127.0.0.1", "--port", port_arg)
            out = succeeded(run_example("daytime_client", loop, *args))
            assert re.fullmatch(rf"{DAYTIME}\n", out), out
        assert read_to_eof(port).endswith(b"\r\n")
        assert server.stop() == 0, server.stderr


@pytest.mark.parametrize("loop", LOOPS)
def test_udp_time_query(loop: str) -> None:
    server, ports = start_time_server(loop)
    with server:
        port = str(ports["time udp"])
        out = succeeded(
            run_example("udp_time_query", loop, "--port", port, "127.0.0.1", "localhost")
        )
        hosts = offsets(out, 12)
        # Both answers come from 127.0.0.1, whose name is localhost.
        assert [host for host, _ in hosts] == ["localhost"] * 3
        assert all(abs(offset) <= 2 for _, offset in hosts)
        # The daytime service over UDP answers one line per datagram.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.sendto(b"", ("127.0.0.1", ports["daytime udp"]))
            answer = sock.recv(100)
        assert re.fullmatch(rf"{DAYTIME}\r\n".encode(), answer), answer
        assert server.stop() == 0, server.stderr
    assert server.stderr == ""


@pytest.mark.parametrize("loop", LOOPS)
def test_udp_time_query_timeout(loop: str) -> None:
    # A host that gets the query (a bound socket: no ICMP "port unreachable") and never
    # answers: the wait runs out, the silent host is counted, and the status is 1.
    silent, silent_port = unused_port(socket.SOCK_DGRAM)
    with silent:
        result = run_example(
            "udp_time_query", loop, "--timeout", "0.5", "--port", str(silent_port), "127.0.0.1"
        )
        silent.settimeout(TIMEOUT)
        assert silent.recv(10) == b"", "the query is an empty datagram (RFC 868)"
    assert result.returncode == 1
    assert result.stdout.decode().count("\n") == 1  # only the "localhost 0 now" line
    assert result.stderr.decode() == "no answer from 1 of 1 hosts within 0.5 s\n"


# -- webget ------------------------------------------------------------------------------


@pytest.fixture
def http_server(tmp_path: Path) -> tuple[Program, int, Path]:
    (tmp_path / "hello.txt").write_bytes(
        b"Hello from a file.\nSecond line\r\n\x00\xff binary tail"
    )
    server = Program(
        [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "0"],
        cwd=tmp_path,
    )
    port = int(server.wait_for(r"Serving HTTP on 127\.0\.0\.1 port (\d+) .*").group(1))
    return server, port, tmp_path


def split_responses(data: bytes) -> list[tuple[bytes, dict[bytes, bytes], bytes]]:
    """Split webget's output into (status line, headers, body) by Content-Length."""
    responses = []
    while data:
        head, _, data = data.partition(b"\r\n\r\n")
        status, *header_lines = head.split(b"\r\n")
        headers = dict(line.split(b": ", 1) for line in header_lines)
        length = int(headers[b"Content-Length"])
        responses.append((status, headers, data[:length]))
        data = data[length:]
    return responses


@pytest.mark.parametrize("loop", LOOPS)
def test_webget(loop: str, http_server: tuple[Program, int, Path]) -> None:
    server, port, root = http_server
    with server:
        result = run_example(
            "webget", loop, "--port", str(port), "127.0.0.1", "/hello.txt", "/guanaco.html"
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr == b""
        (status, _, body), (status404, _, _) = split_responses(result.stdout)
        assert status == b"HTTP/1.0 200 OK"
        assert body == (root / "hello.txt").read_bytes()
        assert status404.startswith(b"HTTP/1.0 404 ")
        # The system curl, against the same server, gets the same document.
        curl = subprocess.run(
            [
                "curl",
                "--silent",
                "--show-error",
                "--http1.0",
                f"http://127.0.0.1:{port}/hello.txt",
            ],
            capture_output=True,
            timeout=TIMEOUT,
            check=True,
        )
        assert curl.stdout == body
        server.stop()
    # The server saw two GETs, one connection each, and curl's.
    requests = re.findall(r'"GET (\S+) HTTP/1\.[01]" (\d+)', server.stderr)
    assert requests == [("/hello.txt", "200"), ("/guanaco.html", "404"), ("/hello.txt", "200")]


@pytest.mark.parametrize("loop", LOOPS)
def test_webget_needs_a_document(loop: str) -> None:
    result = run_example("webget", loop, "127.0.0.1")
    assert result.returncode == 2
    assert b"the following arguments are required: document" in result.stderr


@pytest.mark.parametrize("loop", LOOPS)
def test_webget_no_server(loop: str) -> None:
    sock, port = unused_port()
    with sock:
        result = run_example("webget", loop, "--port", str(port), "127.0.0.1", "/")
    assert result.returncode == 1
    assert b"cannot connect to http daemon on 127.0.0.1" in result.stderr


# -- the command server and the interactive client ---------------------------------------


def start_command_server(loop: str, motd: Path) -> tuple[Program, int]:
    server = start("command_server", loop, "--port", "0", "--motd", str(motd))
    assert re.fullmatch(r"\[Server \S*command_server\.py accepting clients\]", server.readline())
    return server, port_of(server.wait_for(r"READY (tcp://127\.0\.0\.1:\d+)").group(1))


@pytest.mark.parametrize("loop", LOOPS)
def test_interactive_client_and_command_server(loop: str, tmp_path: Path) -> None:
    motd = tmp_path / "motd"
    motd.write_text("Welcome to the machine.\nMind the gap.\n")
    server, port = start_command_server(loop, motd)
    with server:
        commands = b"help\n\n  date\nWHO is there\ncookie\nmotd\nnonsense\nquit\nnever read\n"
        result = run_example("interactive_client", loop, "127.0.0.1", str(port), input=commands)
        assert result.returncode == 0, result.stderr
        assert result.stderr.decode() == f"[Connected to 127.0.0.1:{port}]\n"
        out = result.stdout.decode()
        welcome, *answers = out.split("Command? ")
        assert re.fullmatch(
            r"Welcome to \S*command_server\.py; type help for command list\.\r\n", welcome
        )
        help_text = "Commands: quit date who cookie motd\r\n"
        assert answers[0] == help_text
        assert answers[1] == ""  # a blank line gets the prompt again, nothing else
        assert re.fullmatch(rf"{CTIME}\r\n", answers[2]), answers[2]
        assert re.fullmatch(
            r"\S+ runs this server\r\nyou are 127\.0\.0\.1 port \d+ since .*\r\n", answers[3]
        ), answers[3]
        assert re.fullmatch(r"[^\r\n]+\r\n", answers[4]), answers[4]  # one cookie
        assert answers[5] == "Welcome to the machine.\r\nMind the gap.\r\n"
        assert answers[6] == help_text
        assert answers[7] == ""  # quit: the server hangs up, the client ends
        assert len(answers) == 8
        assert server.readline() == "[Connect from localhost]"
        # No message of the day: said so, not an error.
        motd.unlink()
        result = run_example(
            "interactive_client", loop, "127.0.0.1", str(port), input=b"motd\nexit\n"
        )
        assert "No message of the day (No such file or directory" in result.stdout.decode()
        assert server.stop() == 0, server.stderr
    assert server.stderr == ""


def accept_queue(port: int) -> int:
    """How many connections the kernel holds, not yet accepted, for 127.0.0.1:``port``.

    For a listening socket, ``/proc/net/tcp``'s ``rx_queue`` is its accept queue's
    length; addresses there are hex, the IPv4 address in host byte order.
    """
    (address,) = struct.unpack("=I", socket.inet_aton("127.0.0.1"))
    local = f"{address:08X}:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[3] == "0A":  # 0A: TCP_LISTEN
            return int(fields[4].split(":")[1], 16)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def wait_until(check: Callable[[], bool], what: str) -> None:
    """Poll ``check`` (a kernel state with no event to wait on) until true, bounded."""
    deadline = time.monotonic() + TIMEOUT
    while not check():
        assert time.monotonic() < deadline, f"never true: {what}"
        time.sleep(0.001)


def receive_prompt(client: socket.socket) -> bytes:
    """Read until the next ``Command? `` prompt; return what came before it."""
    data = b""
    while not data.endswith(b"Command? "):
        chunk = client.recv(4096)
        assert chunk, f"the server hung up after {data!r}"
        data += chunk
    return data[: -len(b"Command? ")]


@pytest.mark.parametrize("loop", LOOPS)
def test_command_server_serves_one_client_at_a_time(loop: str, tmp_path: Path) -> None:
    server, port = start_command_server(loop, tmp_path / "motd")
    with (
        server,
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as first,
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as second,
    ):
        assert receive_prompt(first).startswith(b"Welcome to ")
        first.sendall(b"date\r\n")
        assert re.fullmatch(rf"{CTIME}\r\n".encode(), receive_prompt(first))
        # The second client is connected: the kernel holds it in the server's accept
        # queue (it is not refused).  The server then answers the first client again,
        # so its loop has run since; an accepting server would have taken the second
        # from the queue by then, and greeted it.
        wait_until(lambda: accept_queue(port) == 1, "the second client is queued")
        first.sendall(b"date\r\n")
        assert re.fullmatch(rf"{CTIME}\r\n".encode(), receive_prompt(first))
        assert accept_queue(port) == 1, "the second client was accepted"
        second.setblocking(False)
        with pytest.raises(BlockingIOError):
            second.recv(4096)
        second.settimeout(TIMEOUT)
        # Only once the first quits is the second accepted and served.
        first.sendall(b"quit\r\n")
        assert first.recv(4096) == b""
        assert receive_prompt(second).startswith(b"Welcome to ")
        assert accept_queue(port) == 0
        second.sendall(b"exit\r\n")
        assert second.recv(4096) == b""
        assert server.stop() == 0, server.stderr
    assert server.stdout.count("[Connect from localhost]") == 2


@pytest.mark.parametrize("loop", LOOPS)
def test_command_server_over_long_line(loop: str, tmp_path: Path) -> None:
    server, port = start_command_server(loop, tmp_path / "motd")
    with server, socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as client:
        client.sendall(b"x" * 70_000)
        data = b""
        while chunk := client.recv(4096):
            data += chunk
        assert data.endswith(b"Command? Line too long; goodbye.\r\n")
        assert server.stop() == 0, server.stderr


@pytest.mark.parametrize("loop", LOOPS)
def test_interactive_client_ends_when_the_server_hangs_up(loop: str) -> None:
    # stdin stays open: perlipc's parent kills its stdin-copying child when the
    # server closes, and so must the client stop reading stdin.
    with start("tcp_server", loop, "0") as server:
        port = port_of(server.wait_for(r"READY (tcp://\S+)").group(1))
        with subprocess.Popen(
            example("interactive_client", loop, "127.0.0.1", str(port)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as client:
            assert client.stdout is not None
            assert client.stderr is not None
            try:
                out = client.stdout.read()  # to EOF: the client exited, stdin still open
                status = client.wait(timeout=TIMEOUT)
                err = client.stderr.read()
            finally:
                if client.poll() is None:
                    client.kill()
        assert status == 0, err
        assert re.fullmatch(rf"Hello there, localhost, it's now {CTIME}\r\n".encode(), out)
        assert server.stop() == 0


@pytest.mark.parametrize("loop", LOOPS)
def test_interactive_client_refused(loop: str) -> None:
    sock, port = unused_port()
    with sock:
        result = run_example("interactive_client", loop, "127.0.0.1", str(port))
    assert result.returncode == 1
    assert f"can't connect to port {port} on 127.0.0.1" in result.stderr.decode()
