"""Exec a program the way a service manager starts a socket-activated service.

    python socket_activate.py FD [FD ...] -- PROGRAM [ARG ...]

The inherited fds FD… become fds 3, 4, … (in that order), every other inherited copy is
closed, and ``LISTEN_FDS`` is set to their count and ``LISTEN_PID`` to this process's
pid -- which ``exec`` keeps, so it is the program's pid, as after systemd's fork.
``LISTEN_FDNAMES`` (and anything else) comes from the environment the caller gave.
A tiny stand-in for ``systemd-socket-activate``.
"""

from __future__ import annotations

import fcntl
import os
import sys


def main(argv: list[str]) -> None:
    split = argv.index("--")
    sources = [int(fd) for fd in argv[:split]]
    program = argv[split + 1 :]
    # Copy every source above the target range first, so no dup2 overwrites a source.
    first_free = 3 + len(sources)
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, first_free) for fd in sources]
    for fd in sources:
        os.close(fd)
    for target, fd in enumerate(moved, 3):
        os.dup2(fd, target, inheritable=True)
    os.environ["LISTEN_FDS"] = str(len(sources))
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.execv(program[0], program)  # the moved copies are close-on-exec


if __name__ == "__main__":
    main(sys.argv[1:])
