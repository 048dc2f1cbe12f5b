"""A program that re-execs itself once with aioipc.reexec(), then describes itself.

Used by tests/test_daemon.py: run it by a *relative* path.  The first generation
changes directory to ``/`` (as a daemon does), blocks SIGHUP (as a SIGHUP handler
would), catches SIGTERM, and calls ``aioipc.reexec()``.  The second generation prints
one JSON line: its pid, its arguments (and the interpreter's), its signal mask and the
sets of ignored and caught signals it started with.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import aioipc

GENERATION = "AIOIPC_TEST_REEXEC_GENERATION"


def main() -> None:
    if os.environ.get(GENERATION) is None:
        os.environ[GENERATION] = "2"
        print(f"generation 1: pid {os.getpid()}", flush=True)
        os.chdir("/")
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
        aioipc.reexec()
    with open("/proc/self/status", encoding="ascii") as file:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in file if ":\t" in line)
    print(
        json.dumps(
            {
                "pid": os.getpid(),
                "argv": sys.argv[1:],
                "orig_argv": sys.orig_argv,
                "sigblk": int(status["SigBlk"], 16),
                "sigign": int(status["SigIgn"], 16),
                "sigcgt": int(status["SigCgt"], 16),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
