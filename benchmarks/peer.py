"""The other end of every benchmark: a small program using plain blocking sockets.

Every implementation under test talks to this same peer, so two implementations'
figures differ only by the measured side. The peer inherits one end of a socketpair
(``subprocess.Popen(..., pass_fds=...)``), writes one ready byte (``R``) once it is set
up, serves one of three roles, and exits 0 when the measured side closes the
connection::

    python -m benchmarks.peer [--cpu N] echo FD
        Send back every byte it receives, as soon as it receives it.
    python -m benchmarks.peer [--cpu N] sink FD BYTES [BYTES ...]
        Read and discard; after each listed number of bytes, send one ack byte (``A``).
    python -m benchmarks.peer [--cpu N] source FD BYTES [BYTES ...]
        For each listed number of bytes: wait for one request byte (``G``), then send
        that many bytes.

``--cpu N`` pins the peer to CPU N before it reports ready. Any protocol surprise
(unexpected bytes, early EOF) exits with status 1 and a message on stderr, so the
harness never reports a figure from a run that did not do what it claims.

This module imports nothing from the rest of the package, to start quickly.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Sequence

READY = b"R"
ACK = b"A"
GO = b"G"

#: Receive buffer of the echo peer. A ping-pong message never exceeds it, so the echo
#: answers each message with one recv and one send.
ECHO_BUFFER = 65536
#: Receive buffer of the sink and send buffer of the source. Larger than any chunk the
#: measured side uses, so the peer needs no more system calls than the kernel's socket
#: buffer (about 208 KiB here) forces.
BULK_BUFFER = 1 << 20


class ProtocolError(Exception):
    """The measured side did something the peer's role does not allow."""


def _echo(sock: socket.socket) -> None:
    buf = bytearray(ECHO_BUFFER)
    view = memoryview(buf)
    while True:
        n = sock.recv_into(buf)
        if n == 0:
            return
        sock.sendall(view[:n])


def _sink(sock: socket.socket, quantities: Sequence[int]) -> None:
    buf = bytearray(BULK_BUFFER)
    view = memoryview(buf)
    for quantity in quantities:
        remaining = quantity
        while remaining:
            n = sock.recv_into(view[: min(remaining, BULK_BUFFER)])
            if n == 0:
                raise ProtocolError(f"EOF with {remaining} of {quantity} bytes still to come")
            remaining -= n
        sock.sendall(ACK)
    _expect_eof(sock)


def _source(sock: socket.socket, quantities: Sequence[int]) -> None:
    view = memoryview(b"s" * BULK_BUFFER)
    for quantity in quantities:
        request = sock.recv(1)
        if request != GO:
            raise ProtocolError(f"expected the request byte {GO!r}, got {request!r}")
        remaining = quantity
        while remaining:
            n = min(remaining, BULK_BUFFER)
            sock.sendall(view[:n])
            remaining -= n
    _expect_eof(sock)


def _expect_eof(sock: socket.socket) -> None:
    extra = sock.recv(1)
    if extra:
        raise ProtocolError(f"expected EOF after the last transfer, got {extra!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the peer; return the exit status (0: the measured side closed cleanly)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peer", description=__doc__)
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    parser.add_argument("role", choices=("echo", "sink", "source"))
    parser.add_argument("fd", type=int, help="inherited, connected stream socket")
    parser.add_argument("quantities", type=int, nargs="*", metavar="BYTES")
    args = parser.parse_args(argv)
    if args.role == "echo" and args.quantities:
        parser.error("echo takes no BYTES")
    if args.role != "echo" and not args.quantities:
        parser.error(f"{args.role} needs at least one BYTES")

    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    with socket.socket(fileno=args.fd) as sock:
        try:
            sock.sendall(READY)
            if args.role == "echo":
                _echo(sock)
            elif args.role == "sink":
                _sink(sock, args.quantities)
            else:
                _source(sock, args.quantities)
        except (ProtocolError, OSError) as exc:
            print(f"benchmarks.peer {args.role}: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the harness reports it
        sys.exit(130)
