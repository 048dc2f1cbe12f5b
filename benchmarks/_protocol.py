"""What the measured side needs to know about the peer's protocol (see ``peer.py``)."""

from __future__ import annotations

import os
import socket

from ._channels import DATAGRAM_KINDS, STREAM_KINDS, SYSV_KINDS, ChannelKind
from .peer import ACK, GO, PING_TYPE, PONG_TYPE, READY, STOP

__all__ = [
    "ACK",
    "GO",
    "PING_TYPE",
    "PONG_TYPE",
    "READY",
    "STOP",
    "EndOfStreamError",
    "check_echo",
    "close_fds",
    "datagram_socket",
    "scenario_names",
]


class EndOfStreamError(Exception):
    """The peer closed the connection or answered with something the role forbids."""


def check_echo(sent: bytes, received: bytes) -> None:
    """Fail the measurement if the echo peer's last answer is not the last message.

    Called once after the timed loop, so it costs nothing in the figure and still
    catches a client that counted round trips without receiving the right bytes.
    """
    if sent != received:
        raise EndOfStreamError(f"echo mismatch: sent {sent[:16]!r}…, got {received[:16]!r}…")


def close_fds(read_fd: int, write_fd: int) -> None:
    """Close a channel's two fds (one, if they are the same)."""
    os.close(read_fd)
    if write_fd != read_fd:
        os.close(write_fd)


def datagram_socket(address: str) -> socket.socket:
    """A blocking datagram socket connected to the peer at ``address``.

    ``address`` is the channel's ``udp://127.0.0.1:PORT`` or ``unixgram:/path``; a Unix
    socket is autobound to an abstract name so that the peer's replies find it.
    """
    if address.startswith("udp://"):
        host, _, port = address.removeprefix("udp://").rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect((host, int(port)))
        return sock
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("")  # Linux autobind: an abstract name the peer can answer
    sock.connect(address.removeprefix("unixgram:"))
    return sock


def scenario_names(kinds: tuple[ChannelKind, ...], *prefixes: str) -> list[str]:
    """``["pingpong-pipe", ...]``: each prefix with each channel kind."""
    return [f"{prefix}-{kind}" for prefix in prefixes for kind in kinds]


STREAMS = STREAM_KINDS
DATAGRAMS = DATAGRAM_KINDS
SYSV = SYSV_KINDS
BULK: tuple[ChannelKind, ...] = ("socketpair", "unix", "tcp", "pipe", "fifo")
