"""The sender of the ``signal-roundtrip`` benchmark: a tiny blocking program.

    python benchmarks/signal_peer.py ACK_FD SIGNALS PID

Started by the measured side itself (``_family_local.py``), which passes it the read
end of a pipe as ``ACK_FD``. It waits for one byte on that pipe (``G`` first, then an
ack ``A`` for every signal), sends ``SIGUSR1`` to ``PID`` with ``os.kill``, and
repeats ``SIGNALS`` times; it then waits for the last ack and exits 0. So exactly one
signal is ever outstanding, and every round trip is: the kernel delivers the signal,
the measured side's handling wakes and writes the ack, this process wakes on its read.

Any surprise (EOF or a wrong byte before the last ack) exits with status 1 and a
message on stderr. It imports nothing but ``os``, ``signal`` and ``sys``, to start
quickly; run by path, it does not even import the ``benchmarks`` package.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

#: The measured side's first byte: its handling is in place, start sending.
GO = b"G"
#: The measured side's answer to each signal.
ACK = b"A"


def serve(ack_fd: int, signals: int, pid: int) -> str | None:
    """Send ``signals`` SIGUSR1s to ``pid``, each after one byte; None, or what went wrong."""
    expected = GO
    for sent in range(signals + 1):
        got = os.read(ack_fd, 1)
        if got != expected:
            return f"expected {expected!r} after {sent} signals, got {got!r}"
        expected = ACK
        if sent < signals:
            os.kill(pid, signal.SIGUSR1)
    return None


def main(argv: Sequence[str]) -> int:
    """Run as ``signal_peer.py ACK_FD SIGNALS PID``; return the exit status."""
    if len(argv) != 3:
        print("usage: signal_peer.py ACK_FD SIGNALS PID", file=sys.stderr)
        return 2
    ack_fd, signals, pid = (int(arg) for arg in argv)
    try:
        problem = serve(ack_fd, signals, pid)
    finally:
        os.close(ack_fd)
    if problem is not None:
        print(f"signal_peer: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
