"""The other end of every benchmark: a small program using plain blocking calls.

Every implementation under test talks to this same peer, so two implementations'
figures differ only by the measured side. The peer inherits its side of the channel
(see ``_channels.py``; the spec is a JSON argument), writes one ready byte (``R``) on
``--ready FD`` once it is set up, serves one role, and exits 0 when the measured side
closes its end::

    python -m benchmarks.peer [--cpu N] --ready FD ROLE SPEC [BYTES ...]

    echo      byte streams: send back every byte received, as soon as it is received.
    sink      byte streams: read and discard; after each listed number of bytes, send
              one ack byte (``A``).
    source    byte streams: for each listed number of bytes, wait for one request byte
              (``G``), then send that many bytes.
    dgram-echo  datagrams: send each datagram back to its sender until a ``STOP``.
    msg-echo  a SysV queue: receive each message of type 1 and send it back as type 2,
              until a ``STOP``.
    sem-echo  two SysV semaphores: take a unit of the first, give one to the second,
              as many times as the single BYTES argument says.

``--cpu N`` pins the peer to CPU N before it reports ready. Any protocol surprise
(unexpected bytes, early EOF) exits with status 1 and a message on stderr, so the
harness never reports a figure from a run that did not do what it claims.

This module imports nothing from the rest of the package but the channel spec, to
start quickly.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
from collections.abc import Sequence

from ._channels import ChannelSpec

READY = b"R"
ACK = b"A"
GO = b"G"
#: Ends a datagram or message echo: unlike an empty datagram, every API sends it.
STOP = b"."
#: SysV message types: the measured side sends PING, the peer answers with PONG.
PING_TYPE = 1
PONG_TYPE = 2

#: Receive buffer of the echo peer. A ping-pong message never exceeds it, so the echo
#: answers each message with one read and one write.
ECHO_BUFFER = 65536
#: Receive buffer of the sink and send buffer of the source. Larger than any chunk the
#: measured side uses, so the peer needs no more system calls than the kernel's buffer
#: (about 208 KiB for a socket, 64 KiB for a pipe) forces.
BULK_BUFFER = 1 << 20

ROLES = ("echo", "sink", "source", "dgram-echo", "msg-echo", "sem-echo")


class ProtocolError(Exception):
    """The measured side did something the peer's role does not allow."""


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _echo(spec: ChannelSpec) -> None:
    rfd, wfd = _stream_fds(spec)
    buf = bytearray(ECHO_BUFFER)
    view = memoryview(buf)
    while True:
        n = _read_into(rfd, view)
        if n == 0:
            return
        _write_all(wfd, view[:n])


def _read_into(fd: int, view: memoryview) -> int:
    try:
        return os.readv(fd, [view])
    except OSError as exc:
        if exc.errno == 5:  # EIO: a pty whose master was closed
            return 0
        raise


def _sink(spec: ChannelSpec, quantities: Sequence[int]) -> None:
    rfd, wfd = _stream_fds(spec)
    buf = bytearray(BULK_BUFFER)
    view = memoryview(buf)
    for quantity in quantities:
        remaining = quantity
        while remaining:
            n = _read_into(rfd, view[: min(remaining, BULK_BUFFER)])
            if n == 0:
                raise ProtocolError(f"EOF with {remaining} of {quantity} bytes still to come")
            remaining -= n
        _write_all(wfd, ACK)
    _expect_eof(rfd)


def _source(spec: ChannelSpec, quantities: Sequence[int]) -> None:
    rfd, wfd = _stream_fds(spec)
    view = memoryview(b"s" * BULK_BUFFER)
    for quantity in quantities:
        request = os.read(rfd, 1)
        if request != GO:
            raise ProtocolError(f"expected the request byte {GO!r}, got {request!r}")
        remaining = quantity
        while remaining:
            n = min(remaining, BULK_BUFFER)
            _write_all(wfd, view[:n])
            remaining -= n
    _expect_eof(rfd)


def _expect_eof(fd: int) -> None:
    extra = _read_into(fd, memoryview(bytearray(1)))
    if extra:
        raise ProtocolError("expected EOF after the last transfer, got more bytes")


def _stream_fds(spec: ChannelSpec) -> tuple[int, int]:
    if spec.read_fd is None or spec.write_fd is None:
        raise ProtocolError(f"a {spec.kind} channel is not a byte stream")
    return spec.read_fd, spec.write_fd


def _dgram_echo(spec: ChannelSpec) -> None:
    if spec.read_fd is None:
        raise ProtocolError(f"a {spec.kind} channel has no datagram socket")
    with socket.socket(fileno=spec.read_fd) as sock:
        buf = bytearray(ECHO_BUFFER)
        view = memoryview(buf)
        while True:
            n, sender = sock.recvfrom_into(buf)
            if view[:n] == STOP:
                return
            sock.sendto(view[:n], sender)


def _msg_echo(spec: ChannelSpec) -> None:
    import sysv_ipc

    queue = sysv_ipc.MessageQueue(spec.keys[0])
    while True:
        message, _ = queue.receive(type=PING_TYPE)
        if message == STOP:
            return
        queue.send(message, type=PONG_TYPE)


def _sem_echo(spec: ChannelSpec, quantities: Sequence[int]) -> None:
    import sysv_ipc

    ping = sysv_ipc.Semaphore(spec.keys[0])
    pong = sysv_ipc.Semaphore(spec.keys[1])
    for _ in range(quantities[0]):
        ping.acquire()
        pong.release()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the peer; return the exit status (0: the measured side closed cleanly)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peer", description=__doc__)
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    parser.add_argument("--ready", type=int, required=True, help="fd to write the ready byte to")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("spec", type=ChannelSpec.from_json, help="this side's channel (JSON)")
    parser.add_argument("quantities", type=int, nargs="*", metavar="BYTES")
    args = parser.parse_args(argv)
    takes_quantities = args.role in ("sink", "source", "sem-echo")
    if takes_quantities and not args.quantities:
        parser.error(f"{args.role} needs at least one BYTES")
    if not takes_quantities and args.quantities:
        parser.error(f"{args.role} takes no BYTES")

    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    spec: ChannelSpec = args.spec
    try:
        os.write(args.ready, READY)
        os.close(args.ready)
        if args.role == "echo":
            _echo(spec)
        elif args.role == "sink":
            _sink(spec, args.quantities)
        elif args.role == "source":
            _source(spec, args.quantities)
        elif args.role == "dgram-echo":
            _dgram_echo(spec)
        elif args.role == "msg-echo":
            _msg_echo(spec)
        else:
            _sem_echo(spec, args.quantities)
    except (ProtocolError, OSError) as exc:
        print(f"benchmarks.peer {args.role}: {exc}", file=sys.stderr)
        return 1
    finally:
        for fd in spec.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the harness reports it
        sys.exit(130)
