"""SysV IPC for asyncio: semaphores, shared memory and message queues.

A public submodule (``import aioipc.sysv``), built on :mod:`sysv_ipc`.  The waits
(``Semaphore.acquire``, ``Semaphore.wait_zero``, ``MessageQueue.send``/``receive``)
never block the event loop, can be cancelled at any moment without losing a unit or a
message, and work on asyncio's default loop and on uvloop.  See ``docs/sysv.md``.

* Keys: :data:`IPC_PRIVATE` (also ``key=None``), an int, or :func:`key_from_path`.
* :class:`Semaphore`, :class:`SharedMemory`, :class:`MessageQueue` (with :class:`QueueStats`).
* :class:`SysVRemoved`: the object was removed while a wait was in progress.
* :func:`list_objects` and :func:`remove_stale`: find and remove what a crashed run
  left in the kernel; :class:`SysVObject` describes one object.
"""

from __future__ import annotations

from ._errors import SysVRemoved as SysVRemoved
from ._sysv_cleanup import SysVObject as SysVObject
from ._sysv_cleanup import list_objects as list_objects
from ._sysv_cleanup import remove_stale as remove_stale
from ._sysv_keys import IPC_PRIVATE as IPC_PRIVATE
from ._sysv_keys import key_from_path as key_from_path
from ._sysv_queue import MessageQueue as MessageQueue
from ._sysv_queue import QueueStats as QueueStats
from ._sysv_semaphore import Semaphore as Semaphore
from ._sysv_shm import SharedMemory as SharedMemory

__all__ = (
    "IPC_PRIVATE",
    "MessageQueue",
    "QueueStats",
    "Semaphore",
    "SharedMemory",
    "SysVObject",
    "SysVRemoved",
    "key_from_path",
    "list_objects",
    "remove_stale",
)
