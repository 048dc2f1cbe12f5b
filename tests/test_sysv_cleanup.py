"""aioipc.sysv.list_objects and remove_stale against real kernel objects and processes."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sysv_ipc
from sysv_data_helpers import SysVCleanup

import aioipc
from aioipc import sysv

HERE = Path(__file__).resolve().parent
PROGRAM = str(HERE / "sysv_semaphore_program.py")
PERL_DIR = HERE / "interop" / "perl"


@pytest.fixture
def objects() -> Iterator[SysVCleanup]:
    cleanup = SysVCleanup()
    yield cleanup
    cleanup.finish()


def test_list_objects_describes_each_kind(objects: SysVCleanup) -> None:
    sem = sysv.Semaphore(objects.key(), mode=0o640)
    mq = sysv_ipc.MessageQueue(objects.key(), sysv_ipc.IPC_CREX, 0o600)
    mq.send(b"one")
    shm = sysv_ipc.SharedMemory(objects.key(), sysv_ipc.IPC_CREX, 0o600, 4096)
    try:
        found = {o.kind: o for o in sysv.list_objects(keys=objects.keys)}
        assert set(found) == {"sem", "msg", "shm"}
        assert found["sem"].id == sem.id
        assert found["sem"].mode == 0o640
        assert found["sem"].owner_uid == os.getuid()
        assert found["msg"].messages == 1
        assert found["msg"].pids == (os.getpid(),)
        assert found["shm"].attached == 1
        assert sysv.list_objects("sem", keys=objects.keys) == [found["sem"]]
        assert sysv.list_objects("sem", keys=objects.keys, owner_uid=os.getuid() + 1) == []
    finally:
        shm.detach()


async def test_remove_stale_removes_what_a_killed_run_left(objects: SysVCleanup) -> None:
    crashed = sysv.Semaphore(objects.key(), initial=1)
    argv = [sys.executable, PROGRAM, "hold", str(crashed.key), "1", "asyncio"]
    async with aioipc.open_process(argv, stdout=aioipc.PIPE) as run:
        assert run.stdout is not None
        assert await run.stdout.readline() == b"HELD"
        # Alive: the kernel recorded the holder's pid as the last to operate on it.
        assert sysv.remove_stale(keys=[crashed.key], dry_run=True) == []
        run.kill()
        await run.wait()
    in_use = sysv.Semaphore(objects.key(), undo=False)
    argv = ["perl", str(PERL_DIR / "sysv_sem_take.pl"), str(in_use.key)]
    async with aioipc.open_process(argv, stdout=aioipc.PIPE) as perl:
        assert perl.stdout is not None
        assert await perl.stdout.readline() == b"READY"
        probe = sysv_ipc.Semaphore(in_use.key)
        while probe.waiting_for_nonzero == 0:  # perl is now blocked in semop
            await asyncio.sleep(0.001)
        keys = [crashed.key, in_use.key]
        assert [o.id for o in sysv.remove_stale(keys=keys, dry_run=True)] == [crashed.id]
        assert [o.id for o in sysv.remove_stale(keys=keys)] == [crashed.id]
        assert sysv.list_objects(keys=[crashed.key]) == []
        in_use.release()
        assert await perl.stdout.readline() == b"TOOK"
    in_use.remove()


def test_remove_reports_an_object_already_gone(objects: SysVCleanup) -> None:
    sem = sysv.Semaphore(objects.key())
    (listed,) = sysv.list_objects(keys=[sem.key])
    assert listed.remove() is True
    assert listed.remove() is False


def test_bad_selections() -> None:
    with pytest.raises(ValueError, match="kind must be 'sem', 'msg', 'shm' or None"):
        sysv.list_objects("queue")
    with pytest.raises(TypeError, match="key must be an int"):
        sysv.remove_stale(keys=["x"])  # type: ignore[list-item]
