"""What the measured side needs to know about the peer's protocol (see ``peer.py``)."""

from __future__ import annotations

from .peer import ACK, GO, READY

__all__ = ["ACK", "GO", "READY", "EndOfStreamError", "check_echo"]


class EndOfStreamError(Exception):
    """The peer closed the connection or answered with something the role forbids."""


def check_echo(sent: bytes, received: bytes) -> None:
    """Fail the measurement if the echo peer's last answer is not the last message.

    Called once after the timed loop, so it costs nothing in the figure and still
    catches a client that counted round trips without receiving the right bytes.
    """
    if sent != received:
        raise EndOfStreamError(f"echo mismatch: sent {sent[:16]!r}…, got {received[:16]!r}…")
