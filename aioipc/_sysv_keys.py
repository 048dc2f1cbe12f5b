"""SysV IPC keys: private, plain integers, or derived from a path with ``ftok``.

A key is how unrelated processes find the same kernel object.  The kernel's ``key_t``
is a signed 32-bit integer and ``/proc/sysvipc`` shows it that way, while ``ipcs``
shows it in hex; aioipc accepts either spelling (``-16`` and ``0xfffffff0`` are the same
key) and reports keys as the kernel stores them, signed.
"""

from __future__ import annotations

import os
import warnings
from typing import Union

import sysv_ipc

__all__ = ["IPC_PRIVATE", "check_key", "describe", "key_from_path"]

StrPath = Union[str, "os.PathLike[str]"]

#: The key that always makes a new object, reachable only through its id.
IPC_PRIVATE: int = sysv_ipc.IPC_PRIVATE

_KEY_LOW = -(2**31)
_KEY_HIGH = 2**32 - 1


def check_key(key: int | None) -> int:
    """Return ``key`` as the kernel's signed 32-bit ``key_t`` (None means private).

    Raises:
        TypeError: ``key`` is not an int or None (a bool is refused too).
        ValueError: ``key`` does not fit in 32 bits.
    """
    if key is None:
        return IPC_PRIVATE
    if isinstance(key, bool) or not isinstance(key, int):
        raise TypeError(f"key must be an int, IPC_PRIVATE or None, not {key!r}")
    if not _KEY_LOW <= key <= _KEY_HIGH:
        raise ValueError(
            f"key {key!r} does not fit in a 32-bit key_t (-2**31 to 2**32-1); "
            "use key_from_path() to derive one from a file"
        )
    return key - 2**32 if key >= 2**31 else key


def key_from_path(path: StrPath, project_id: int) -> int:
    """Derive a key from an existing file and a project id, as ``ftok(3)`` does.

    Processes that agree on a path and a project id (1 to 255) get the same key
    without agreeing on a number.  The key is built from the file's inode and device
    numbers and the low 8 bits of ``project_id``: replacing the file (a new inode)
    changes the key, and two files can, rarely, share a key.

    Raises:
        TypeError: ``project_id`` is not an int, or ``path`` is not a path.
        ValueError: ``project_id`` is outside 1..255 (ftok would silently use only its
            low 8 bits, and 0 gives unspecified results).
        FileNotFoundError: ``path`` does not exist (the message names it).
        OSError: as ``stat(2)`` on ``path`` (e.g. ``PermissionError``).
    """
    if isinstance(project_id, bool) or not isinstance(project_id, int):
        raise TypeError(f"project_id must be an int from 1 to 255, not {project_id!r}")
    if not 1 <= project_id <= 255:
        raise ValueError(f"project_id must be from 1 to 255, not {project_id}")
    name = os.fspath(path)
    if not isinstance(name, str):
        raise TypeError(f"path must be a str or os.PathLike[str], not {path!r}")
    try:
        os.stat(name)
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            exc.errno, f"cannot derive a SysV key: {name!r} does not exist"
        ) from None
    with warnings.catch_warnings():
        # sysv_ipc warns that ftok can collide; the docs say so instead.
        warnings.simplefilter("ignore")
        key: int = sysv_ipc.ftok(name, project_id, True)
    return check_key(key)


def describe(kind: str, key: int, ident: int) -> str:
    """Name an object for error messages: ``semaphore key 0x00001234 (id 7)``."""
    if key == IPC_PRIVATE:
        return f"private {kind} (id {ident})"
    return f"{kind} key {key & 0xFFFFFFFF:#010x} (id {ident})"
