"""perlipc's ``give``: decrement the semaphore, letting a waiting ``take`` through.

perlipc ("SysV IPC")::

    # 'give' the semaphore
    # run this in the original process and you will see
    # that the second process continues

    $IPC_KEY = 1234;
    $id = semget($IPC_KEY, 0, 0);
    die if !defined($id);

    $semnum = 0;
    $semflag = 0;

    # Decrement the semaphore count
    $semop = -1;
    $opstring = pack("s!s!s!", $semnum, $semop, $semflag);

    semop($id,$opstring) || die "$!";

``await sem.acquire()`` is the decrement: like Perl's ``semop`` it waits while the
value is 0 (nothing was taken), without blocking the loop.  ``undo=False`` because
``semflag`` is 0: the decrement must outlive this process.  It prints ``gave`` when
done::

    python examples/sysv/give.py [KEY | --path FILE] [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import aioipc
from aioipc.sysv import Semaphore, key_from_path


async def main(key: int) -> None:
    sem = Semaphore(key, create=False, undo=False)  # semget($IPC_KEY, 0, 0)
    await sem.acquire()  # $semop = -1
    print(f"gave semaphore {sem.id}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("key", nargs="?", type=lambda text: int(text, 0), default=1234)
    parser.add_argument("--path", type=Path, help="derive the key from this file (ftok)")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args()
    key = key_from_path(args.path, 1) if args.path is not None else args.key
    aioipc.run(main(key), loop=args.loop)
