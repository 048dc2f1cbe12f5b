"""perlipc's ``take``: wait for the semaphore to be zero, then increment it.

perlipc ("SysV IPC")::

    $IPC_KEY = 1234;
    $id = semget($IPC_KEY,  0 , 0 );
    die if !defined($id);

    $semnum = 0;
    $semflag = 0;

    # 'take' semaphore
    # wait for semaphore to be zero
    $semop = 0;
    $opstring1 = pack("s!s!s!", $semnum, $semop, $semflag);

    # Increment the semaphore count
    $semop = 1;
    $opstring2 = pack("s!s!s!", $semnum, $semop,  $semflag);
    $opstring = $opstring1 . $opstring2;

    semop($id,$opstring) || die "$!";

Run ``setup.py`` first, then ``take.py`` twice in two terminals: the first takes at
once, the second waits until ``give.py`` runs.

What changes:

* ``Semaphore(key, create=False)`` is ``semget($IPC_KEY, 0, 0)``: a missing semaphore
  is an error that names the key, not a bare ``die``.
* The wait is ``await sem.wait_zero()``: polled without blocking the loop, so Ctrl-C
  or a timeout ends it cleanly.
* Perl's ``semop`` does both operations at once.  ``aioipc.sysv.Semaphore`` has no
  multi-operation ``semop``, so this is two steps, ``wait_zero()`` then ``release()``:
  two ``take``s waiting at the same time could both get through.  perlipc's
  one-taker-per-give demo behaves the same; for a real mutex use ``async with sem:``
  (``acquire``/``release``), which is one atomic operation each way.
* ``semflag`` 0 means no ``SEM_UNDO``: the increment must outlive this process (it is
  ``give``'s to undo), so the semaphore is opened with ``undo=False``.

It prints ``waiting`` before it waits and ``took`` once through::

    python examples/sysv/take.py [KEY | --path FILE] [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import aioipc
from aioipc.sysv import Semaphore, key_from_path


async def main(key: int) -> None:
    sem = Semaphore(key, create=False, undo=False)  # semget($IPC_KEY, 0, 0)
    print(f"waiting for semaphore {sem.id} to be zero", flush=True)
    await sem.wait_zero()  # $semop = 0
    sem.release()  # $semop = 1
    print(f"took semaphore {sem.id}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("key", nargs="?", type=lambda text: int(text, 0), default=1234)
    parser.add_argument("--path", type=Path, help="derive the key from this file (ftok)")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args()
    key = key_from_path(args.path, 1) if args.path is not None else args.key
    aioipc.run(main(key), loop=args.loop)
