"""Fresh SysV keys and guaranteed clean-up, for tests/test_sysv_shm.py and test_sysv_queue.py.

A test asks the ``sysv_cleanup`` fixture for keys (random, checked absent from the
kernel) and registers the ids of private objects it makes; the fixture's finalizer
removes every shared memory segment and message queue with those keys or ids, whether
the test passed or failed, so the ``no_leaks`` fixture never sees one left behind.
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import sysv_ipc

KINDS = ("shm", "msg", "sem")


def kernel_objects(kind: str) -> list[tuple[int, int]]:
    """(key, id) of every object of ``kind`` ("shm", "msg" or "sem") in the kernel."""
    rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
    return [(int(row.split()[0]), int(row.split()[1])) for row in rows]


def remove_object(kind: str, ident: int) -> None:
    remover = {
        "shm": sysv_ipc.remove_shared_memory,
        "msg": sysv_ipc.remove_message_queue,
        "sem": sysv_ipc.remove_semaphore,
    }[kind]
    with contextlib.suppress(sysv_ipc.ExistentialError):
        remover(ident)


class SysVCleanup:
    """Hands out fresh keys and removes, at the end, whatever was made with them."""

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.ids: list[tuple[str, int]] = []

    def key(self) -> int:
        taken = {key for kind in KINDS for key, _ in kernel_objects(kind)}
        while True:
            key = random.randint(0x10000, 2**31 - 1)
            if key not in taken and key not in self.keys:
                self.keys.append(key)
                return key

    def track(self, kind: str, ident: int) -> int:
        self.ids.append((kind, ident))
        return ident

    def finish(self) -> None:
        for kind in KINDS:
            for key, ident in kernel_objects(kind):
                if key in self.keys or (kind, ident) in self.ids:
                    remove_object(kind, ident)
