"""The load generator of the server scenarios, in a process of its own.

    python -m benchmarks.load_client connect PORT --size N --warmup N --iterations N
        [--concurrency C]
    python -m benchmarks.load_client echo PORT --size N --warmup N --iterations N
        --concurrency C

The server under test runs in the worker process (``_family_servers.py``), which
starts this program with the server's TCP port on 127.0.0.1 and reads one JSON line
from its stdout when it is done: ``{"elapsed": seconds, "operations": n}``, where
``elapsed`` is the time the ``--iterations`` timed operations took, after ``--warmup``
untimed ones. Any wrong answer, reset or stall ends it with status 1 and a message on
stderr, so a server that miscounts or garbles fails the measurement.

``connect``: each operation is one connection: connect, send one ``--size``-byte line
(``\\n`` included), read the line echoed back, close. With ``--concurrency 1`` (the
default) connections are made one after the other with blocking sockets; with more,
that many are kept in flight at once with non-blocking sockets on one epoll.

``echo``: ``--concurrency`` connections are opened first (untimed); each operation is
one ``--size``-byte message sent on one of them and its echo read back in full. Every
connection keeps one message in flight until the phase's count is reached, so the
server sees ``--concurrency`` clients at once.

It is kept as light as the job allows — plain non-blocking sockets, one epoll, no event
loop, nothing allocated per message but the received bytes — because on a 2-CPU
machine it competes with the server for the CPUs: every microsecond spent here is one
the server does not get. It imports only the standard library, so it starts in a few
milliseconds.
"""

from __future__ import annotations

import argparse
import errno
import json
import resource
import select
import socket
import sys
import time
from collections.abc import Sequence

#: How long the load generator waits for any progress before it gives up: a server that
#: stops answering fails the measurement instead of stalling it.
STALL_TIMEOUT = 10.0
HOST = "127.0.0.1"


class LoadError(Exception):
    """The server answered wrongly, reset a connection, or stopped answering."""


def message(size: int, index: int) -> bytes:
    """The ``size``-byte line sent by connection or operation ``index`` (ends in ``\\n``)."""
    return b"%0*d\n" % (size - 1, index % 10 ** (size - 1))


def raise_fd_limit(needed: int) -> None:
    """Raise this process's soft ``RLIMIT_NOFILE`` to ``needed`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _receive_line(sock: socket.socket, size: int) -> bytes:
    data = sock.recv(size)
    while data and not data.endswith(b"\n"):
        more = sock.recv(size)
        if not more:
            break
        data += more
    return data


def sequential_connections(port: int, size: int, count: int) -> None:
    """``count`` connections one after the other, each checked."""
    for index in range(count):
        line = message(size, index)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(STALL_TIMEOUT)
            sock.connect((HOST, port))
            sock.sendall(line)
            answer = _receive_line(sock, size)
        if answer != line:
            raise LoadError(f"connection {index}: sent {line[:16]!r}…, got {answer[:16]!r}…")


def concurrent_connections(port: int, size: int, count: int, concurrency: int) -> None:
    """``count`` connections, ``concurrency`` of them in flight at once, each checked."""
    poller = select.epoll()
    # fd -> (socket, line sent, bytes received so far)
    flight: dict[int, tuple[socket.socket, bytes, bytes]] = {}
    started = done = 0
    try:

        def start() -> None:
            nonlocal started
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            err = sock.connect_ex((HOST, port))
            if err not in (0, errno.EINPROGRESS):
                sock.close()
                raise LoadError(f"connect: {errno.errorcode.get(err, err)}")
            flight[sock.fileno()] = (sock, message(size, started), b"")
            poller.register(sock.fileno(), select.EPOLLOUT)
            started += 1

        for _ in range(min(concurrency, count)):
            start()
        while done < count:
            events = poller.poll(STALL_TIMEOUT)
            if not events:
                raise LoadError(f"no progress for {STALL_TIMEOUT:.0f} s ({done}/{count} done)")
            for fd, event in events:
                sock, line, got = flight[fd]
                if event & select.EPOLLOUT:
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise LoadError(f"connect: {errno.errorcode.get(err, err)}")
                    sock.send(line)  # a few bytes into an empty buffer: sent whole
                    poller.modify(fd, select.EPOLLIN)
                    continue
                chunk = sock.recv(size)
                if not chunk:
                    raise LoadError(f"the server closed a connection after {got!r}")
                got += chunk
                if not got.endswith(b"\n"):
                    flight[fd] = (sock, line, got)
                    continue
                if got != line:
                    raise LoadError(f"sent {line[:16]!r}…, got {got[:16]!r}…")
                poller.unregister(fd)
                del flight[fd]
                sock.close()
                done += 1
                if started < count:
                    start()
    finally:
        for sock, _, _ in flight.values():
            sock.close()
        poller.close()


class EchoClients:
    """``concurrency`` connections to an echo server, each with one message in flight."""

    def __init__(self, port: int, size: int, concurrency: int) -> None:
        self.size = size
        self.socks: list[socket.socket] = []
        self.poller = select.epoll()
        self.by_fd: dict[int, int] = {}
        try:
            for index in range(concurrency):
                sock = socket.create_connection((HOST, port), timeout=STALL_TIMEOUT)
                self.socks.append(sock)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setblocking(False)
                self.by_fd[sock.fileno()] = index
                self.poller.register(sock.fileno(), select.EPOLLIN)
        except BaseException:
            self.close()
            raise
        self.messages = [message(size, index) for index in range(concurrency)]

    def run(self, count: int) -> None:
        """Send ``count`` messages in all and read every echo, checking each."""
        socks, messages, size = self.socks, self.messages, self.size
        pending = [b""] * len(socks)
        sent = 0
        for index in range(min(count, len(socks))):
            socks[index].send(messages[index])
            sent += 1
        received = 0
        poll, by_fd = self.poller.poll, self.by_fd
        while received < count:
            events = poll(STALL_TIMEOUT)
            if not events:
                raise LoadError(f"no echo for {STALL_TIMEOUT:.0f} s ({received}/{count})")
            for fd, _ in events:
                index = by_fd[fd]
                sock = socks[index]
                chunk = sock.recv(size - len(pending[index]))
                if not chunk:
                    raise LoadError("the server closed an echo connection")
                data = pending[index] + chunk
                if len(data) < size:
                    pending[index] = data
                    continue
                pending[index] = b""
                if data != messages[index]:
                    raise LoadError(f"sent {messages[index][:16]!r}…, got {data[:16]!r}…")
                received += 1
                if sent < count:
                    sock.send(messages[index])
                    sent += 1

    def close(self) -> None:
        """Close every connection and the poller."""
        for sock in self.socks:
            sock.close()
        self.poller.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the load; print the JSON line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_client", description=__doc__)
    parser.add_argument("mode", choices=("connect", "echo"))
    parser.add_argument("port", type=int)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--iterations", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args(argv)
    raise_fd_limit(args.concurrency + 64)
    elapsed = 0.0
    try:
        if args.mode == "connect":
            for count in (args.warmup, args.iterations):
                start = time.perf_counter()
                if args.concurrency == 1:
                    sequential_connections(args.port, args.size, count)
                else:
                    concurrent_connections(args.port, args.size, count, args.concurrency)
                elapsed = time.perf_counter() - start
        else:
            clients = EchoClients(args.port, args.size, args.concurrency)
            try:
                for count in (args.warmup, args.iterations):
                    start = time.perf_counter()
                    clients.run(count)
                    elapsed = time.perf_counter() - start
            finally:
                clients.close()
    except (LoadError, OSError) as exc:
        print(f"benchmarks.load_client {args.mode}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"elapsed": elapsed, "operations": args.iterations}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
