"""Child programs for tests/test_pty.py and the pty examples; they run on a pty.

``python pty_program.py MODE``:

* ``password``: asks for a password on /dev/tty with :func:`getpass.getpass` (echo
  off, as a real login prompt does) and prints whether it was right;
* ``winsize``: prints ``SIZE rows cols`` now and again on every SIGWINCH, until EOF;
* ``ready``: prints ``READY`` and waits for ever (for Ctrl-C and hangup tests);
* ``isatty``: prints whether fds 0-2 are terminals and the terminal's name.
"""

from __future__ import annotations

import getpass
import os
import signal
import sys


def password() -> int:
    user = input("login: ")
    secret = getpass.getpass("Password: ")
    if (user, secret) == ("alice", "s3cret"):
        print(f"welcome {user}")
        return 0
    print("access denied")
    return 1


def winsize() -> int:
    def show(signum: int = 0, frame: object = None) -> None:
        rows, cols = os.get_terminal_size(0)[::-1]
        print(f"SIZE {rows} {cols}", flush=True)

    signal.signal(signal.SIGWINCH, show)
    show()
    for _ in sys.stdin:
        pass
    return 0


def ready() -> int:
    print("READY", flush=True)
    while True:
        signal.pause()


def isatty() -> int:
    print(" ".join(str(os.isatty(fd)) for fd in (0, 1, 2)), os.ttyname(0))
    with open("/dev/tty", "w") as tty:
        tty.write("TTY OK\n")
    return 0


if __name__ == "__main__":
    sys.exit(
        {"password": password, "winsize": winsize, "ready": ready, "isatty": isatty}[sys.argv[1]]()
    )
