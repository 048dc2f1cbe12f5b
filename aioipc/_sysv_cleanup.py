"""Find and remove the SysV objects a crashed run left in the kernel.

SysV semaphores, message queues and shared memory segments outlive every process that
used them: a run that is SIGKILLed before its cleanup leaves them behind until reboot
or ``ipcrm``.  :func:`list_objects` reads ``/proc/sysvipc/{sem,msg,shm}``;
:func:`remove_stale` removes, from a selection, the objects that no living process is
known to use.

What "known to use" can mean is limited by what the kernel records:

* shared memory: attached by some process (``nattch`` > 0), or its creator or last
  user (``cpid``, ``lpid``) still alive;
* message queue: the last sender or receiver (``lspid``, ``lrpid``) still alive;
* semaphore set: a process blocked on it (``semncnt``, ``semzcnt``), or the last
  process to operate on one of its semaphores (``sempid``) still alive.

aioipc's own waiters poll with ``IPC_NOWAIT`` and are not counted as blocked, and a
failed attempt records no pid, so an object a live program is merely waiting on can look
stale.  Select by ``keys`` (your application's keys) and run it when your application
is not running.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import sysv_ipc

from ._sysv_keys import check_key

__all__ = ["SysVObject", "list_objects", "remove_stale"]

Kind = Literal["sem", "msg", "shm"]
_KINDS: tuple[Kind, ...] = ("sem", "msg", "shm")
_PROC = Path("/proc/sysvipc")

# semctl(2) commands from <linux/sem.h>.
_GETPID = 11
_GETNCNT = 14
_GETZCNT = 15


@dataclass(frozen=True)
class SysVObject:
    """One SysV IPC object in the kernel, as ``/proc/sysvipc`` describes it.

    ``kind`` is ``"sem"``, ``"msg"`` or ``"shm"``; ``key`` (signed, 0 for private),
    ``id``, ``mode`` (permission bits), ``owner_uid`` and ``creator_uid`` are the
    kernel's; ``pids`` are the processes the kernel recorded as having used it (creator
    and last user of a segment, last sender and receiver of a queue); ``attached`` is a
    segment's attach count (0 for the other kinds) and ``messages`` a queue's message
    count (0 for the other kinds).
    """

    kind: Kind
    key: int
    id: int
    mode: int
    owner_uid: int
    creator_uid: int
    pids: tuple[int, ...]
    attached: int
    messages: int

    def remove(self) -> bool:
        """Remove this object (``IPC_RMID``); return False if it was already gone.

        Raises:
            PermissionError: this process may not remove it (not its owner or creator).
        """
        remover = {
            "sem": sysv_ipc.remove_semaphore,
            "msg": sysv_ipc.remove_message_queue,
            "shm": sysv_ipc.remove_shared_memory,
        }[self.kind]
        try:
            remover(self.id)
        except sysv_ipc.ExistentialError:
            return False
        except sysv_ipc.PermissionsError as exc:
            raise PermissionError(
                errno.EPERM, f"cannot remove SysV {self.kind} id {self.id}: {exc}"
            ) from None
        return True


def _parse(kind: Kind) -> list[SysVObject]:
    try:
        lines = (_PROC / kind).read_text().splitlines()
    except FileNotFoundError:
        return []
    header = lines[0].split()
    found = []
    for line in lines[1:]:
        row = dict(zip(header, (int(field) for field in line.split()), strict=False))
        pids: tuple[int, ...] = ()
        if kind == "shm":
            pids = (row["cpid"], row["lpid"])
        elif kind == "msg":
            pids = (row["lspid"], row["lrpid"])
        found.append(
            SysVObject(
                kind=kind,
                key=row["key"],
                id=row["shmid" if kind == "shm" else "msqid" if kind == "msg" else "semid"],
                mode=int(str(row["perms"]), 8) & 0o777,
                owner_uid=row["uid"],
                creator_uid=row["cuid"],
                pids=tuple(pid for pid in pids if pid > 0),
                attached=row.get("nattch", 0) if kind == "shm" else 0,
                messages=row.get("qnum", 0) if kind == "msg" else 0,
            )
        )
    return found


def _check_kind(kind: str | None) -> tuple[Kind, ...]:
    if kind is None:
        return _KINDS
    if kind not in _KINDS:
        raise ValueError(f"kind must be 'sem', 'msg', 'shm' or None, not {kind!r}")
    return tuple(k for k in _KINDS if k == kind)


def list_objects(
    kind: str | None = None,
    *,
    owner_uid: int | None = None,
    keys: Iterable[int] | None = None,
) -> list[SysVObject]:
    """List the SysV objects in the kernel, optionally only one kind, owner or key set.

    ``kind`` is ``"sem"``, ``"msg"``, ``"shm"`` or None for all; ``owner_uid`` keeps
    those owned by that user; ``keys`` keeps those with one of the keys (either
    spelling of a key: ``-16`` or ``0xfffffff0``).  Objects of other users are listed
    too (the kernel shows them), though only root may remove them.

    Raises:
        ValueError: ``kind`` is not one of the three, or a key does not fit 32 bits.
        TypeError: a key is not an int.
    """
    kinds = _check_kind(kind)
    wanted = None if keys is None else {check_key(k) for k in keys}
    return [
        obj
        for k in kinds
        for obj in _parse(k)
        if (owner_uid is None or obj.owner_uid == owner_uid)
        and (wanted is None or obj.key in wanted)
    ]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _semaphore_users(semid: int, nsems: int) -> tuple[set[int], int]:
    """Last-operation pids and the number of blocked processes of a semaphore set."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    pids: set[int] = set()
    blocked = 0
    for num in range(nsems):
        pid = libc.semctl(semid, num, _GETPID)
        if pid < 0:
            break  # removed meanwhile
        if pid > 0:
            pids.add(pid)
        blocked += max(0, libc.semctl(semid, num, _GETNCNT))
        blocked += max(0, libc.semctl(semid, num, _GETZCNT))
    return pids, blocked


def _in_use(obj: SysVObject) -> bool:
    if obj.kind == "shm" and obj.attached > 0:
        return True
    pids = set(obj.pids)
    if obj.kind == "sem":
        nsems = next(
            (
                int(line.split()[3])
                for line in (_PROC / "sem").read_text().splitlines()[1:]
                if int(line.split()[1]) == obj.id
            ),
            0,
        )
        sem_pids, blocked = _semaphore_users(obj.id, nsems)
        if blocked:
            return True
        pids |= sem_pids
    return any(_alive(pid) for pid in pids if pid != os.getpid())


def remove_stale(
    kind: str | None = None,
    *,
    keys: Iterable[int] | None = None,
    owner_uid: int | None = -1,
    dry_run: bool = False,
) -> list[SysVObject]:
    """Remove the selected SysV objects that no living process is known to use.

    The selection is as :func:`list_objects`'s, except that ``owner_uid`` defaults to
    this process's user (pass ``None`` for every user's, which needs root to remove).
    An object counts as in use when a process is attached to it (shared memory), is
    blocked on it (semaphore), or a process the kernel recorded as its creator or last
    user is alive -- this process excepted, so a program can clean up after its own
    crashed predecessor at start-up.  aioipc's waiters poll and are invisible to the
    kernel, so select by ``keys`` and do not run this while your application runs.
    Returns the objects removed (with ``dry_run=True``: the ones that would be).

    Raises:
        ValueError, TypeError: as :func:`list_objects`.
        PermissionError: an object may not be removed by this process.
    """
    if owner_uid == -1:
        owner_uid = os.getuid()
    removed = []
    for obj in list_objects(kind, owner_uid=owner_uid, keys=keys):
        if _in_use(obj):
            continue
        if dry_run or obj.remove():
            removed.append(obj)
    return removed
