"""Counting this process's open file descriptors, to catch leaks."""

from __future__ import annotations

import os


def open_fds() -> dict[int, str]:
    """Map each open fd of this process to what it points at.

    The descriptor the directory listing itself used is closed by the time its link is
    read, so it is left out.
    """
    fds: dict[int, str] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except FileNotFoundError:
            continue
    return fds


def describe(fds: dict[int, str]) -> str:
    """``"5 (socket:[123]), 6 (pipe:[456])"`` for a leak message."""
    return ", ".join(f"{fd} ({target})" for fd, target in sorted(fds.items()))
