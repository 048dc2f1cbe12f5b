"""Test infrastructure shared by every test module.

* Every async test runs twice: on asyncio's default loop and on uvloop, both created by
  aioipc's own loop factory (so the signal hub routing is exercised too).
* Every test, sync or async, fails if it leaks a file descriptor, leaves a child
  process (running or zombie) behind, or leaves a SysV IPC object in the kernel.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

import aioipc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

LOOP_FACTORIES: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": aioipc.loop_factory("asyncio"),
    "uvloop": aioipc.loop_factory("uvloop"),
}


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return LOOP_FACTORIES


def pytest_sessionstart(session: pytest.Session) -> None:
    # uvloop opens a process-wide signal pipe with its first loop and keeps it: open it
    # now, so that the first uvloop test is not blamed for two "leaked" fds.
    for factory in LOOP_FACTORIES.values():
        loop = factory()
        loop.close()


def open_fds() -> dict[int, str]:
    """Map each open fd of this process to what it points at."""
    fds: dict[int, str] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except FileNotFoundError:
            continue  # the fd listdir itself used
    return fds


def child_processes() -> dict[int, str]:
    """Map each child of this process (alive or zombie) to its state and command."""
    me = os.getpid()
    children: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may itself contain spaces.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == me:
            children[int(entry)] = f"{comm} (state {fields[0]})"
    return children


def sysv_objects() -> set[tuple[str, int]]:
    """Every SysV shared memory segment, semaphore set and message queue in the kernel."""
    found: set[tuple[str, int]] = set()
    for kind in ("shm", "sem", "msg"):
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            found.add((kind, int(line.split()[1])))
    return found


def signal_dispositions() -> dict[str, object]:
    """What every catchable signal is set to (SIGALRM belongs to pytest-timeout)."""
    skip = {signal.SIGKILL, signal.SIGSTOP, signal.SIGALRM}
    return {
        signal.Signals(signum).name
        if signum in signal.Signals._value2member_map_
        else str(signum): signal.getsignal(signum)
        for signum in sorted(signal.valid_signals())
        if signum not in skip
    }


def _settle(check: Callable[[], bool], seconds: float = 2.0) -> bool:
    """Poll ``check`` until true or out of time: a closed fd or reaped child may lag
    the end of the test by a loop iteration in another thread."""
    deadline = time.monotonic() + seconds
    while True:
        gc.collect()
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail the test if it leaks fds, children, SysV objects or signal handlers."""
    dispositions_before = signal_dispositions()
    fds_before = open_fds()
    children_before = child_processes()
    sysv_before = sysv_objects()
    yield
    leaked_fds: dict[int, str] = {}
    leaked_children: dict[int, str] = {}

    def fds_clean() -> bool:
        nonlocal leaked_fds
        now = open_fds()
        leaked_fds = {fd: what for fd, what in now.items() if fds_before.get(fd) != what}
        return not leaked_fds

    def children_clean() -> bool:
        nonlocal leaked_children
        now = child_processes()
        leaked_children = {pid: s for pid, s in now.items() if pid not in children_before}
        return not leaked_children

    problems = []
    if not _settle(children_clean):
        problems.append(f"child processes left behind: {leaked_children}")
    if not _settle(fds_clean):
        problems.append(f"file descriptors leaked: {leaked_fds}")
    leaked_sysv = sysv_objects() - sysv_before
    if leaked_sysv:
        problems.append(f"SysV IPC objects left in the kernel: {sorted(leaked_sysv)}")
    changed = {
        name: (before, signal_dispositions()[name])
        for name, before in dispositions_before.items()
        if signal_dispositions()[name] != before
    }
    if changed:
        problems.append(f"signal handlers not restored (before, after): {changed}")
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)
