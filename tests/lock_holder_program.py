"""A process that locks a file with a plain blocking ``flock``, for tests/test_locks.py.

    python lock_holder_program.py PATH [--shared]   hold the lock, then obey stdin
    python lock_holder_program.py PATH --try [--shared]   one LOCK_NB try: GOT or BUSY

Holding: it blocks in ``flock`` (as perlipc's Perl does), prints ``READY``, and reads
commands from stdin: ``release`` writes ``released by PID`` into the file *before*
unlocking (so whoever gets the lock next can read that it came second) and prints
``RELEASED``.  It exits at end of input, or when killed.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import sys

parser = argparse.ArgumentParser()
parser.add_argument("path")
parser.add_argument("--shared", action="store_true")
parser.add_argument("--try", dest="try_once", action="store_true")
args = parser.parse_args()

kind = fcntl.LOCK_SH if args.shared else fcntl.LOCK_EX
if args.try_once:
    fd = os.open(args.path, os.O_RDONLY)
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        print("BUSY", flush=True)
    else:
        print("GOT", flush=True)
    sys.exit(0)

fd = os.open(args.path, os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, kind)
print("READY", flush=True)
for line in sys.stdin:
    if line.strip() == "release":
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"released by {os.getpid()}\n".encode(), 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        print("RELEASED", flush=True)
