"""Give up waiting for a file lock after a while: perlipc's ``alarm`` around ``flock``.

perlipc ("Signals")::

    eval {
        local $SIG{ALRM} = sub { die "alarm clock restart" };
        alarm 10;
        flock(FH, 2);   # blocking write lock
        alarm 0;
    };
    if ($@ and $@ !~ /alarm clock restart/) { die }

The Perl code needs a signal because ``flock`` blocks the whole process.
``aioipc.lock_file`` never blocks: it polls a non-blocking ``flock`` from the event
loop, so a timeout is an argument (``timeout=10``), the expiry is
``aioipc.IPCTimeoutError`` (a ``TimeoutError``) instead of a ``die`` to match against,
and there is no ``alarm 0`` to forget.  As in Perl, running out of time is reported and
the program goes on; any other error (no such directory, no permission) ends it.

``FH`` is an open handle in Perl, so here too the file is opened first (for append)
and its handle is what gets locked.  Under the lock the program appends one line,
``locked by PID``, and leaving the ``async with`` block unlocks::

    python examples/locks/flock_timeout.py PATH [--seconds 10] [--shared] [--loop asyncio|uvloop]

It prints ``READY`` before it starts waiting.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import aioipc


async def main(path: Path, seconds: float, shared: bool) -> None:
    kind = "a shared" if shared else "an exclusive"
    with open(path, "a") as fh:  # open(FH, ">>", $path)
        print(f"READY: waiting up to {seconds:g} s for {kind} lock on {path}", flush=True)
        try:
            async with aioipc.lock_file(fh, exclusive=not shared, timeout=seconds):
                fh.write(f"locked by {os.getpid()}\n")
                fh.flush()  # while the lock is still held
                print(f"locked {path}", flush=True)
        except aioipc.IPCTimeoutError as exc:  # $@ =~ /alarm clock restart/
            print(f"timed out: {exc}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--seconds", type=float, default=10.0, help="alarm 10")
    parser.add_argument("--shared", action="store_true", help="LOCK_SH instead of LOCK_EX")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args()
    if not args.seconds >= 0:
        parser.error("--seconds must be a number >= 0")
    aioipc.run(main(args.path, args.seconds, args.shared), loop=args.loop)
