"""Create the semaphore that perlipc's ``take`` and ``give`` share (or remove it).

perlipc ("SysV IPC")::

    use IPC::SysV qw(IPC_CREAT);

    $IPC_KEY = 1234;
    $id = semget($IPC_KEY, 10, 0666 | IPC_CREAT ) // die "$!";
    print "shm key $id\n";

What changes:

* ``aioipc.sysv.Semaphore`` is one semaphore (a set of one), not a set of ten; ``take``
  and ``give`` only ever use semaphore 0, so Perl's ``take``/``give`` work on it too,
  and ``take.py``/``give.py`` work on a set made by the Perl program.
* Mode ``0600`` instead of ``0666``: with ``0666`` any user of the machine can take or
  give.  Pass ``--mode 0666`` for the original.
* It starts at 0 ("free", in take/give's terms), and aioipc's creation is safe against
  a ``take`` that arrives between the creation and the initialisation.
* perlipc never removes the set; it stays in the kernel (``ipcs -s``) until someone
  does.  ``--remove`` is ``ipcrm -S KEY``.

The key is perlipc's 1234 unless given, as a number or derived from a file with
``--path`` (``ftok(path, 1)``, so unrelated programs agree on it)::

    python examples/sysv/setup.py [KEY | --path FILE] [--mode 0666] [--remove]
                                  [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import aioipc
from aioipc.sysv import Semaphore, key_from_path


async def main(key: int, mode: int, remove: bool) -> None:
    if remove:
        Semaphore(key, create=False).remove()
        print(f"removed the semaphore with key {key:#010x}", flush=True)
        return
    sem = Semaphore(key, initial=0, mode=mode, create=True)
    print(f"sem key {key:#010x} id {sem.id} value {sem.value}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("key", nargs="?", type=lambda text: int(text, 0), default=1234)
    parser.add_argument("--path", type=Path, help="derive the key from this file (ftok)")
    parser.add_argument("--mode", type=lambda text: int(text, 8), default=0o600)
    parser.add_argument("--remove", action="store_true", help="remove the semaphore")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args()
    key = key_from_path(args.path, 1) if args.path is not None else args.key
    aioipc.run(main(key, args.mode, args.remove), loop=args.loop)
