"""SharedMemory: real SysV segments, a real second process, and Perl's IPC::SysV, on both loops."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sysv_ipc
from sysv_data_helpers import SysVCleanup, kernel_objects

import aioipc
from aioipc._errors import SysVRemoved
from aioipc._sysv_shm import SharedMemory

HERE = Path(__file__).resolve().parent
PROGRAM = str(HERE / "sysv_data_program.py")
PERL_DIR = HERE / "interop" / "perl"


@pytest.fixture
def sysv() -> Iterator[SysVCleanup]:
    cleanup = SysVCleanup()
    yield cleanup
    cleanup.finish()


def segment(sysv: SysVCleanup, *args: object, **kwargs: object) -> SharedMemory:
    """A SharedMemory whose segment the fixture removes even if the test fails."""
    shm = SharedMemory(*args, **kwargs)  # type: ignore[arg-type]
    sysv.track("shm", shm.id)
    return shm


def shm_ids() -> set[int]:
    return {ident for _, ident in kernel_objects("shm")}


async def child(*args: str) -> str:
    done = await aioipc.run_process([sys.executable, PROGRAM, *args], timeout=30)
    return done.stdout.decode().strip()


# perlipc's round trip


async def test_perlipc_round_trip_reads_back_the_message_nul_padded(sysv: SysVCleanup) -> None:
    async with segment(sysv, size=2000) as shm:
        message = b"Message #1"
        shm.write(message, 0)
        window = shm.read(60, 0)
        assert len(window) == 60
        assert window == message + b"\0" * 50
        assert window[: window.index(b"\0")] == message
    assert shm.id not in shm_ids()


def test_plain_with_detaches_and_removes_what_it_created(sysv: SysVCleanup) -> None:
    with segment(sysv, size=100) as shm:
        assert shm.attached
        assert shm.id in shm_ids()
    assert not shm.attached
    assert shm.id not in shm_ids()


async def test_a_new_segment_is_all_nul_and_its_size_comes_from_the_kernel(
    sysv: SysVCleanup,
) -> None:
    async with segment(sysv, size=5000) as shm:
        assert shm.size == 5000
        assert shm.read() == b"\0" * 5000
        assert shm.key == sysv_ipc.IPC_PRIVATE
        assert repr(shm).startswith("<SharedMemory key=IPC_PRIVATE")


# the memoryview


async def test_writes_through_a_child_buffer_are_seen_in_the_parent_view(
    sysv: SysVCleanup,
) -> None:
    key = sysv.key()
    async with segment(sysv, key, size=64) as shm:
        view = shm.buffer
        assert (view.format, view.nbytes, view.readonly) == ("B", 64, False)
        assert await child("shm-write-view", str(key), "10", b"from the child".hex()) == "DONE"
        assert bytes(view[10:24]) == b"from the child"
        assert shm.read(14, 10) == b"from the child"


async def test_writes_through_the_parent_buffer_are_seen_by_a_child(sysv: SysVCleanup) -> None:
    key = sysv.key()
    async with segment(sysv, key, size=64) as shm:
        shm.buffer[0:5] = b"hello"
        assert await child("shm-read", str(key), "8") == (b"hello" + b"\0" * 3).hex()


def test_views_are_released_on_detach_and_using_one_raises(sysv: SysVCleanup) -> None:
    with segment(sysv, size=16) as shm:
        view = shm.buffer
        view[0] = 65
    with pytest.raises(ValueError, match="released"):
        view[0]
    with pytest.raises(ValueError, match="detached"):
        shm.buffer  # noqa: B018
    with pytest.raises(ValueError, match="detached"):
        shm.read()
    with pytest.raises(ValueError, match="detached"):
        shm.write(b"x")


def test_a_slice_outliving_detach_keeps_the_mapping_until_it_goes(sysv: SysVCleanup) -> None:
    with segment(sysv, size=16) as shm:
        shm.write(b"kept alive")
        part = shm.buffer[0:10]
    # Removed and detached as far as the object goes, but the slice still maps it:
    # reading it is safe, and the kernel keeps the segment while it is attached.
    assert bytes(part) == b"kept alive"
    assert shm.id in shm_ids()
    del part
    gc.collect()
    assert shm.id not in shm_ids()


def test_detach_twice_does_nothing(sysv: SysVCleanup) -> None:
    shm = segment(sysv, size=16)
    shm.detach()
    shm.detach()
    assert not shm.attached
    shm.remove()


def test_a_read_only_attachment_gives_a_read_only_view(sysv: SysVCleanup) -> None:
    key = sysv.key()
    with segment(sysv, key, size=32) as writer:
        writer.write(b"abc")
        with segment(sysv, key, mode=0o400, create=False) as reader:
            assert reader.read(3) == b"abc"
            assert reader.buffer.readonly
            with pytest.raises(ValueError, match="read-only"):
                reader.write(b"x")


# bounds


def test_reads_and_writes_beyond_the_segment_fail_naming_its_size(sysv: SysVCleanup) -> None:
    with segment(sysv, size=60) as shm:
        with pytest.raises(ValueError, match=r"cannot read 61 bytes at offset 0: .* 60 bytes"):
            shm.read(61)
        with pytest.raises(ValueError, match=r"cannot read 2 bytes at offset 59: .*at most 1"):
            shm.read(2, 59)
        with pytest.raises(ValueError, match=r"offset 61 is beyond the end of the 60-byte"):
            shm.read(0, 61)
        with pytest.raises(ValueError, match=r"cannot write 11 bytes at offset 50"):
            shm.write(b"Message #10", 50)
        with pytest.raises(ValueError, match="offset must be at least 0"):
            shm.write(b"x", -1)
        with pytest.raises(ValueError, match="n must be at least 0"):
            shm.read(-1)
        with pytest.raises(TypeError, match="encode it first"):
            shm.write("text")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            shm.read(1.5)  # type: ignore[arg-type]
        # Up to the edge is fine, and a failed write changed nothing.
        assert shm.read(0, 60) == b""
        assert shm.read(offset=55) == b"\0" * 5
        shm.write(b"12345", 55)
        assert shm.read(10, 50) == b"\0" * 5 + b"12345"


def test_write_accepts_any_contiguous_buffer(sysv: SysVCleanup) -> None:
    import array

    with segment(sysv, size=16) as shm:
        shm.write(array.array("H", [0x4241, 0x4443]), 2)
        shm.write(bytearray(b"!"), 0)
        assert shm.read(6) == b"!\0ABCD"


# create / exclusive / open


def test_create_false_with_a_missing_key_names_the_key(sysv: SysVCleanup) -> None:
    key = sysv.key()
    with pytest.raises(FileNotFoundError, match=f"{key:#010x}"):
        SharedMemory(key, create=False)


def test_exclusive_with_an_existing_key_fails_and_the_existing_one_is_untouched(
    sysv: SysVCleanup,
) -> None:
    key = sysv.key()
    with segment(sysv, key, size=32) as first:
        first.write(b"first")
        with pytest.raises(FileExistsError, match="already exists"):
            SharedMemory(key, size=32, exclusive=True)
        assert first.read(5) == b"first"


async def test_opening_an_existing_segment_takes_its_size_and_leaves_it_in_place(
    sysv: SysVCleanup,
) -> None:
    key = sysv.key()
    async with segment(sysv, key, size=3000) as creator:
        async with segment(sysv, key) as opener:
            assert opener.size == 3000
            async with segment(sysv, key, size=100) as smaller:
                assert smaller.size == 3000
        assert creator.id in shm_ids()
    assert creator.id not in shm_ids()


def test_a_size_larger_than_the_existing_segment_names_both(sysv: SysVCleanup) -> None:
    key = sysv.key()
    with (
        segment(sysv, key, size=100),
        pytest.raises(ValueError, match="has 100 bytes, fewer than size=200"),
    ):
        SharedMemory(key, size=200)


def test_size_zero_cannot_create(sysv: SysVCleanup) -> None:
    with pytest.raises(ValueError, match="size must be given"):
        SharedMemory()
    with pytest.raises(ValueError, match="size=0 cannot create one"):
        SharedMemory(sysv.key())
    with pytest.raises(ValueError, match="size must be given"):
        SharedMemory(sysv.key(), exclusive=True)


def test_a_size_beyond_the_memory_available_names_the_size(sysv: SysVCleanup) -> None:
    with pytest.raises(OSError, match=f"segment of {2**62} bytes: not enough memory"):
        SharedMemory(size=2**62)
    with pytest.raises(ValueError, match="below 2\\*\\*63"):
        SharedMemory(size=2**64)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="create=False needs a key"):
        SharedMemory(None, 10, create=False)
    with pytest.raises(ValueError, match=r"exclusive=True .* needs create=True"):
        SharedMemory(1234, 10, create=False, exclusive=True)
    with pytest.raises(ValueError, match="size must be at least 0"):
        SharedMemory(None, -1)
    with pytest.raises(ValueError, match="does not fit in a 32-bit key_t"):
        SharedMemory(2**40, 10)
    with pytest.raises(TypeError, match="key must be an int"):
        SharedMemory("1234", 10)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key must be an int"):
        SharedMemory(True, 10)
    with pytest.raises(ValueError, match="mode must be permission bits"):
        SharedMemory(None, 10, mode=0o1777)


def test_an_unsigned_key_opens_the_same_segment_as_its_signed_form(sysv: SysVCleanup) -> None:
    key = -sysv.key()  # negative keys are valid key_t values (ftok makes them)
    sysv.keys.append(key)
    with segment(sysv, key, size=8) as signed, segment(sysv, key + 2**32) as unsigned:
        assert signed.id == unsigned.id
        assert unsigned.key == key


# remove and remove_on_exit


def test_remove_on_exit_false_keeps_what_it_created(sysv: SysVCleanup) -> None:
    with segment(sysv, size=8, remove_on_exit=False) as shm:
        pass
    assert shm.id in shm_ids()
    shm.remove()
    assert shm.id not in shm_ids()


def test_remove_on_exit_true_removes_what_it_only_opened(sysv: SysVCleanup) -> None:
    key = sysv.key()
    creator = segment(sysv, key, size=8, remove_on_exit=False)
    with segment(sysv, key, create=False, remove_on_exit=True):
        pass
    # Removed, but still attached to `creator`; it goes when that detaches.
    assert creator.id in shm_ids()
    with pytest.raises(FileNotFoundError):
        SharedMemory(key, create=False)
    creator.detach()
    assert creator.id not in shm_ids()


def test_remove_twice_does_nothing_but_a_segment_removed_elsewhere_is_reported(
    sysv: SysVCleanup,
) -> None:
    shm = segment(sysv, size=8)
    shm.remove()
    shm.remove()
    shm.detach()
    other = segment(sysv, size=8)
    other.detach()
    sysv_ipc.remove_shared_memory(other.id)
    with pytest.raises(SysVRemoved, match=f"shared memory segment \\(id {other.id}\\) no longer"):
        other.remove()


async def test_a_segment_is_removed_even_when_the_block_raises(sysv: SysVCleanup) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with segment(sysv, size=8) as shm:
            raise RuntimeError("boom")
    assert shm.id not in shm_ids()


# permissions


async def test_a_segment_another_user_may_not_use_raises_permission_error(
    sysv: SysVCleanup,
) -> None:
    key = sysv.key()
    async with segment(sysv, key, size=8, mode=0o600):
        out = await child("shm-open-as-nobody", str(key))
    assert out.startswith("PermissionError: [Errno 13] no permission to open")
    assert f"{key:#010x}" in out


# Perl's IPC::SysV on the same key


async def test_perl_writes_a_segment_that_aioipc_reads(sysv: SysVCleanup) -> None:
    key = sysv.key()
    done = await aioipc.run_process(
        ["perl", str(PERL_DIR / "sysv_shm_write.pl"), str(key), "Message #1"], timeout=30
    )
    ident = int(done.stdout.decode().split()[1])
    sysv.track("shm", ident)
    async with SharedMemory(key, create=False, remove_on_exit=True) as shm:
        assert shm.id == ident
        assert shm.size == 2000
        assert shm.read(60) == b"Message #1" + b"\0" * 50
    assert ident not in shm_ids()


async def test_aioipc_writes_a_segment_that_perl_reads(sysv: SysVCleanup) -> None:
    key = sysv.key()
    async with segment(sysv, key, size=2000) as shm:
        shm.write(b"Message #1")
        done = await aioipc.run_process(
            ["perl", str(PERL_DIR / "sysv_shm_read.pl"), str(key)], timeout=30
        )
    assert done.stdout == b"read: Message #1\n"
