"""Scenarios without a channel: signals, process creation and a two-stage pipeline.

Each client here builds what it measures itself (the worker gives it an empty
``"none"`` channel, which it closes at once), performs ``workload.warmup`` operations,
times ``workload.iterations`` more, and leaves no fd, child or zombie behind.

``signal-roundtrip``
    The measured process starts a raw sender, ``benchmarks/signal_peer.py`` (a
    subprocess with one pipe end in ``pass_fds``). The sender sends SIGUSR1 with
    ``os.kill`` and blocks reading one ack byte; the measured side, woken by the
    signal, writes it. Pinned (``same``), the sender inherits the worker's affinity,
    so both run on one CPU. raw: ``sigwait`` with SIGUSR1 blocked (the limit).
    asyncio: the bare callback of the loop class's own ``add_signal_handler``, which
    writes the ack itself. That is the reference of the issue's bar ("within 1.2x of
    the same loop's bare add_signal_handler callback"), so it is measured rather than
    a callback that sets a future for an awaiting task, which would add a task wake-up
    and flatter every awaitable API. It is the *stock* method (``uvloop.Loop``'s or
    ``asyncio.SelectorEventLoop``'s): on aioipc's loops, which the worker runs every
    implementation on, ``loop.add_signal_handler`` is routed through aioipc's signal
    hub, and the baseline must not include aioipc's code. aioipc:
    ``open_signal_stream`` iterated with ``async for``. anyio:
    ``open_signal_receiver`` iterated with ``async for``.

``spawn-run-process``
    Run ``true`` (its path found once with ``shutil.which``) to completion,
    sequentially, sharing the worker's stdio (``true`` writes nothing): every
    implementation does the same work, without capture pipes. raw: ``os.posix_spawn``
    + ``os.waitpid``. asyncio: ``create_subprocess_exec`` + ``wait()``. aioipc:
    ``run_process(..., stdout=None, stderr=None)``. anyio: likewise
    ``anyio.run_process``.

``spawn-fork``
    Fork this interpreter, run a trivial Python function in the child, wait for it.
    raw: ``os.fork`` + ``os._exit`` + blocking ``os.waitpid``. aioipc:
    ``async with open_fork(func) as child: await child.wait()``. asyncio and anyio
    have no fork API; their clients are what their users write: ``os.fork`` and the
    blocking ``os.waitpid`` in the default executor (``run_in_executor``) or a worker
    thread (``anyio.to_thread.run_sync``).

``bulk-pipeline``
    1 GiB in 64 KiB chunks through ``cat | cat``, written to the first stage's stdin
    while the last stage's stdout is read back, concurrently. The pipeline is started
    once; ``warmup`` chunks go through it before the clock starts. raw:
    ``subprocess.Popen`` stages joined by an ``os.pipe``, a writer thread with
    ``os.write`` and blocking ``os.readv`` in the main thread. asyncio:
    ``create_subprocess_exec`` twice with an ``os.pipe`` between, a writer task
    (``write`` + ``drain``) and ``read(n)``. aioipc: ``open_pipeline(["cat"], ["cat"],
    stdin=PIPE, stdout=PIPE)`` with ``send`` and ``receive(n)``. anyio:
    ``anyio.open_process`` twice with an ``os.pipe`` between.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import anyio
import anyio.abc
import anyio.to_thread

import aioipc

from ._channels import Channel
from ._impl_aioipc import AIOIPC
from ._impl_anyio import ANYIO
from ._impl_asyncio import ASYNCIO_STREAMS
from ._impl_raw import RAW
from ._protocol import EndOfStreamError
from ._registry import Scenario, Workload
from ._scenarios import mib_per_s, per_second, round_trip_us
from .signal_peer import ACK, GO

#: The sender run by ``signal-roundtrip``, started by path (it imports nothing of ours).
SIGNAL_PEER = Path(__file__).with_name("signal_peer.py")
#: How long a finished client waits for a helper process to exit before killing it.
EXIT_TIMEOUT = 10.0

SIGNAL_ROUNDTRIP = Scenario(
    name="signal-roundtrip",
    title="Signal round trip, SIGUSR1 + 1-byte ack",
    measures=(
        "A raw sender process sends SIGUSR1 with os.kill and blocks reading a pipe; the "
        "measured side's signal handling wakes and writes one ack byte. The figure is the "
        "mean time per signal + ack, so it includes the kernel's delivery, both wake-ups "
        "and everything the implementation does between the signal and the ack."
    ),
    unit="µs",
    higher_is_better=False,
    workload=Workload(size=1, warmup=200, iterations=3_000),
    channel="none",
    peer_role=None,
    score=round_trip_us,
    group="signals",
    pinnings=("off", "same"),
)
SPAWN_RUN_PROCESS = Scenario(
    name="spawn-run-process",
    title="Run `true` to completion",
    measures=(
        "Start /bin/true (its stdio shared with the measured process) and wait until it "
        "has exited and been reaped, one after the other. The figure is processes per "
        "second: spawning, the child's exec and exit, and noticing it."
    ),
    unit="processes/s",
    higher_is_better=True,
    workload=Workload(size=0, warmup=20, iterations=300),
    channel="none",
    peer_role=None,
    score=per_second,
    group="processes",
)
SPAWN_FORK = Scenario(
    name="spawn-fork",
    title="Fork a Python function and wait for it",
    measures=(
        "Fork the measured interpreter, run a trivial Python function in the child, which "
        "then exits, and wait until it has been reaped, one after the other. The figure "
        "is processes per second."
    ),
    unit="processes/s",
    higher_is_better=True,
    workload=Workload(size=0, warmup=10, iterations=200),
    channel="none",
    peer_role=None,
    score=per_second,
    group="processes",
)
BULK_PIPELINE = Scenario(
    name="bulk-pipeline",
    title="Bulk through `cat | cat`, 64 KiB chunks",
    measures=(
        "Push 64 KiB chunks into the first stage of a two-stage pipeline `cat | cat` "
        "while reading the last stage's output back with 64 KiB reads, concurrently; the "
        "clock stops when every byte has come back. The pipeline is started once and "
        "warmed up first; the figure is MiB/s through the whole round trip."
    ),
    unit="MiB/s",
    higher_is_better=True,
    workload=Workload(size=64 * 1024, warmup=512, iterations=16_384),
    channel="none",
    peer_role=None,
    score=mib_per_s,
    group="bulk",
)

LOCAL_SCENARIOS: tuple[Scenario, ...] = (
    SIGNAL_ROUNDTRIP,
    SPAWN_RUN_PROCESS,
    SPAWN_FORK,
    BULK_PIPELINE,
)

SIGSET = {signal.SIGUSR1}


# ===================================================================== signal round trip


@contextlib.contextmanager
def signal_peer(signals: int) -> Iterator[int]:
    """Start the sender of ``signals`` SIGUSR1s to this process; yield the ack fd.

    The sender waits for :data:`GO` on the ack fd before its first signal, so the
    caller installs its signal handling first. Leaving the block closes the ack fd
    (a sender still waiting sees EOF), waits for the sender (killing it after
    :data:`EXIT_TIMEOUT`), and, when the block was left normally, checks that it
    received every ack.

    Raises:
        EndOfStreamError: the sender did not exit with status 0.
    """
    read_fd, ack_fd = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, str(SIGNAL_PEER), str(read_fd), str(signals), str(os.getpid())],
            pass_fds=(read_fd,),
        )
    except BaseException:
        os.close(ack_fd)
        raise
    finally:
        os.close(read_fd)
    try:
        yield ack_fd
    finally:
        os.close(ack_fd)
        try:
            status = process.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            status = process.wait()
    if status != 0:
        raise EndOfStreamError(f"the signal sender exited with status {status}")


@RAW.client("signal-roundtrip")
def raw_signal_roundtrip(channel: Channel, workload: Workload) -> float:
    """SIGUSR1 blocked and taken with ``signal.sigwait``, then a blocking ``os.write``.

    No handler runs at all: the limit for a Python process that must notice a signal
    and answer it.
    """
    channel.close()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGSET)
    try:
        with signal_peer(workload.warmup + workload.iterations) as ack_fd:
            os.write(ack_fd, GO)
            elapsed = 0.0
            for count in (workload.warmup, workload.iterations):
                start = time.perf_counter()
                for _ in range(count):
                    signal.sigwait(SIGSET)
                    os.write(ack_fd, ACK)
                elapsed = time.perf_counter() - start
        return elapsed
    finally:
        # A signal sent before a failure ended the sender is still pending: take it,
        # so that unblocking does not deliver it to SIGUSR1's default action (exit).
        while signal.sigtimedwait(SIGSET, 0) is not None:
            pass
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def stock_signal_methods(
    loop: asyncio.AbstractEventLoop,
) -> tuple[Callable[[int, Callable[[], object]], None], Callable[[int], bool]]:
    """The loop class's own ``add_signal_handler`` and ``remove_signal_handler``, bound.

    aioipc's loops route these methods through aioipc's signal hub; plain asyncio's
    figure must be the loop's stock mechanism (CPython's wakeup fd read by the loop,
    or uvloop's), so the methods are taken from ``uvloop.Loop`` or
    ``asyncio.SelectorEventLoop``, whichever the loop is.
    """
    base: type[asyncio.AbstractEventLoop] = asyncio.SelectorEventLoop
    with contextlib.suppress(ImportError):
        import uvloop

        if isinstance(loop, uvloop.Loop):
            base = uvloop.Loop
    return (
        functools.partial(base.add_signal_handler, loop),
        functools.partial(base.remove_signal_handler, loop),
    )


class _Acker:
    """The asyncio client's signal callback: writes the ack, notes the clock, counts.

    ``start`` is the time of the ``warmup``-th ack (or of creation, with no warm-up);
    ``done`` is resolved with the time of the last ack.
    """

    def __init__(self, warmup: int, total: int, done: asyncio.Future[float]) -> None:
        self.ack_fd = -1
        self.received = 0
        self.warmup = warmup
        self.total = total
        self.done = done
        self.start = time.perf_counter()

    def __call__(self) -> None:
        os.write(self.ack_fd, ACK)
        self.received += 1
        if self.received == self.warmup:
            self.start = time.perf_counter()
        elif self.received == self.total and not self.done.done():
            self.done.set_result(time.perf_counter())


@ASYNCIO_STREAMS.client("signal-roundtrip")
async def asyncio_signal_roundtrip(channel: Channel, workload: Workload) -> float:
    """The stock ``loop.add_signal_handler`` callback writes the ack itself.

    Nothing is awaited per signal: the figure is the loop's signal machinery plus one
    callback, the bare reference of the issue's bar for ``open_signal_stream``.
    """
    channel.close()
    loop = asyncio.get_running_loop()
    add, remove = stock_signal_methods(loop)
    total = workload.warmup + workload.iterations
    acker = _Acker(workload.warmup, total, loop.create_future())
    add(signal.SIGUSR1, acker)
    try:
        with signal_peer(total) as ack_fd:
            acker.ack_fd = ack_fd
            os.write(ack_fd, GO)
            end = await acker.done
    finally:
        remove(signal.SIGUSR1)
    if acker.received != total:
        raise EndOfStreamError(f"{acker.received} signals handled, expected {total}")
    return end - acker.start


@AIOIPC.client("signal-roundtrip")
async def aioipc_signal_roundtrip(channel: Channel, workload: Workload) -> float:
    """``async for signum in sigs`` over ``aioipc.open_signal_stream(SIGUSR1)``, then the ack."""
    channel.close()
    total = workload.warmup + workload.iterations
    received = 0
    async with aioipc.open_signal_stream(signal.SIGUSR1) as sigs:
        with signal_peer(total) as ack_fd:
            start = time.perf_counter()
            os.write(ack_fd, GO)
            async for _ in sigs:
                os.write(ack_fd, ACK)
                received += 1
                if received == workload.warmup:
                    start = time.perf_counter()
                elif received == total:
                    break
            elapsed = time.perf_counter() - start
    if received != total:
        raise EndOfStreamError(f"{received} signals received, expected {total}")
    return elapsed


@ANYIO.client("signal-roundtrip")
async def anyio_signal_roundtrip(channel: Channel, workload: Workload) -> float:
    """``async for signum in sigs`` over ``anyio.open_signal_receiver(SIGUSR1)``, then the ack."""
    channel.close()
    total = workload.warmup + workload.iterations
    received = 0
    with anyio.open_signal_receiver(signal.SIGUSR1) as sigs, signal_peer(total) as ack_fd:
        start = time.perf_counter()
        os.write(ack_fd, GO)
        async for _ in sigs:
            os.write(ack_fd, ACK)
            received += 1
            if received == workload.warmup:
                start = time.perf_counter()
            elif received == total:
                break
        elapsed = time.perf_counter() - start
    if received != total:
        raise EndOfStreamError(f"{received} signals received, expected {total}")
    return elapsed


# ===================================================================== process creation


def program_path(name: str) -> str:
    """The absolute path of the program ``name`` (``true``, ``cat``), looked up once
    per measurement.

    Raises:
        FileNotFoundError: there is no such program on PATH.
    """
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"no `{name}` program on PATH")
    return path


def _check_failures(failures: int, total: int, what: str) -> None:
    if failures:
        raise EndOfStreamError(f"{failures} of {total} {what} did not exit with status 0")


@RAW.client("spawn-run-process")
def raw_run_process(channel: Channel, workload: Workload) -> float:
    """``os.posix_spawn`` (vfork + exec in glibc) and a blocking ``os.waitpid``."""
    channel.close()
    path = program_path("true")
    argv = [path]
    env = os.environ
    failures = 0
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            _, status = os.waitpid(os.posix_spawn(path, argv, env), 0)
            failures += status != 0
        elapsed = time.perf_counter() - start
    _check_failures(failures, workload.warmup + workload.iterations, "runs of true")
    return elapsed


@ASYNCIO_STREAMS.client("spawn-run-process")
async def asyncio_run_process(channel: Channel, workload: Workload) -> float:
    """``await (await asyncio.create_subprocess_exec(true)).wait()``."""
    channel.close()
    path = program_path("true")
    failures = 0
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            process = await asyncio.create_subprocess_exec(path)
            failures += await process.wait() != 0
        elapsed = time.perf_counter() - start
    _check_failures(failures, workload.warmup + workload.iterations, "runs of true")
    return elapsed


@AIOIPC.client("spawn-run-process")
async def aioipc_run_process(channel: Channel, workload: Workload) -> float:
    """``await aioipc.run_process([true], stdout=None, stderr=None)`` (it checks the status)."""
    channel.close()
    argv = [program_path("true")]
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            await aioipc.run_process(argv, stdout=None, stderr=None)
        elapsed = time.perf_counter() - start
    return elapsed


@ANYIO.client("spawn-run-process")
async def anyio_run_process(channel: Channel, workload: Workload) -> float:
    """``await anyio.run_process([true], stdout=None, stderr=None)`` (it checks the status)."""
    channel.close()
    argv = [program_path("true")]
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            await anyio.run_process(argv, stdout=None, stderr=None)
        elapsed = time.perf_counter() - start
    return elapsed


def child_body() -> None:
    """What every forked child runs: a trivial Python function (it returns at once)."""


def fork_child() -> int:
    """``os.fork()``; the child runs :func:`child_body` and ``os._exit``s, never returning."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        code = 1
        try:
            child_body()
            code = 0
        finally:
            os._exit(code)
    return pid


@RAW.client("spawn-fork")
def raw_fork(channel: Channel, workload: Workload) -> float:
    """``os.fork`` (the child ``os._exit``s) and a blocking ``os.waitpid``."""
    channel.close()
    failures = 0
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            _, status = os.waitpid(fork_child(), 0)
            failures += status != 0
        elapsed = time.perf_counter() - start
    _check_failures(failures, workload.warmup + workload.iterations, "forked children")
    return elapsed


@ASYNCIO_STREAMS.client("spawn-fork")
async def asyncio_fork(channel: Channel, workload: Workload) -> float:
    """``os.fork``, then the blocking ``os.waitpid`` in the loop's default executor.

    asyncio has no API to fork or to wait for a forked pid; this is what its users write.
    """
    channel.close()
    loop = asyncio.get_running_loop()
    failures = 0
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            _, status = await loop.run_in_executor(None, os.waitpid, fork_child(), 0)
            failures += status != 0
        elapsed = time.perf_counter() - start
    _check_failures(failures, workload.warmup + workload.iterations, "forked children")
    return elapsed


@AIOIPC.client("spawn-fork")
async def aioipc_fork(channel: Channel, workload: Workload) -> float:
    """``async with aioipc.open_fork(child_body) as child: await child.wait()``."""
    channel.close()
    failures = 0
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            async with aioipc.open_fork(child_body) as child:
                failures += not (await child.wait()).success
        elapsed = time.perf_counter() - start
    _check_failures(failures, workload.warmup + workload.iterations, "forked children")
    return elapsed


@ANYIO.client("spawn-fork")
async def anyio_fork(channel: Channel, workload: Workload) -> float:
    """``os.fork``, then the blocking ``os.waitpid`` in ``anyio.to_thread.run_sync``.

    anyio has no API to fork or to wait for a forked pid; this is what its users write.
    """
    channel.close()
    failures = 0
    elapsed = 0.0
    for count in (workload.warmup, workload.iterations):
        start = time.perf_counter()
        for _ in range(count):
            _, status = await anyio.to_thread.run_sync(os.waitpid, fork_child(), 0)
            failures += status != 0
        elapsed = time.perf_counter() - start
    _check_failures(failures, workload.warmup + workload.iterations, "forked children")
    return elapsed


# ======================================================================== bulk pipeline


def _short(got: int, expected: int) -> EndOfStreamError:
    return EndOfStreamError(f"the pipeline's output ended after {got} of {expected} bytes")


def _write_chunks(fd: int, chunk: bytes, count: int, errors: list[BaseException]) -> None:
    """The raw client's writer thread: ``count`` chunks with blocking ``os.write``."""
    try:
        view = memoryview(chunk)
        for _ in range(count):
            rest = view
            while rest:
                rest = rest[os.write(fd, rest) :]
    except BaseException as exc:  # reported by the main thread
        errors.append(exc)


@RAW.client("bulk-pipeline")
def raw_pipeline(channel: Channel, workload: Workload) -> float:
    """A writer thread (``os.write``) into ``cat | cat``, blocking ``os.readv`` of its output.

    The stages are ``subprocess.Popen`` processes joined by an ``os.pipe``.
    """
    channel.close()
    cat = program_path("cat")
    between_r, between_w = os.pipe()
    stages: list[subprocess.Popen[bytes]] = []
    try:
        stages.append(subprocess.Popen([cat], stdin=subprocess.PIPE, stdout=between_w))
        stages.append(subprocess.Popen([cat], stdin=between_r, stdout=subprocess.PIPE))
    finally:
        os.close(between_r)
        os.close(between_w)
        if len(stages) < 2:
            for stage in stages:
                stage.kill()
                stage.wait()
                assert stage.stdin is not None
                stage.stdin.close()
    first, last = stages
    assert first.stdin is not None
    assert last.stdout is not None
    in_fd, out_fd = first.stdin.fileno(), last.stdout.fileno()
    try:
        chunk = b"b" * workload.size
        buf = bytearray(workload.size)
        errors: list[BaseException] = []
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            expected = count * workload.size
            start = time.perf_counter()
            writer = threading.Thread(target=_write_chunks, args=(in_fd, chunk, count, errors))
            writer.start()
            got = 0
            try:
                while got < expected:
                    n = os.readv(out_fd, [buf])
                    if n == 0:
                        raise _short(got, expected)
                    got += n
            finally:
                if got < expected:
                    for stage in stages:
                        stage.kill()  # the writer's next write fails: it ends
                writer.join()
            elapsed = time.perf_counter() - start
            if errors:
                raise errors[0]
        first.stdin.close()
        if os.read(out_fd, 1):
            raise EndOfStreamError("the pipeline wrote more than it was given")
    finally:
        for stage in stages:
            for stream in (stage.stdin, stage.stdout):
                if stream is not None:
                    stream.close()
            try:
                stage.wait(EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                stage.kill()
                stage.wait()
    statuses = [stage.returncode for stage in stages]
    _check_failures(sum(s != 0 for s in statuses), len(stages), "pipeline stages")
    return elapsed


async def _transfer(
    send: Callable[[bytes], Awaitable[None]],
    receive: Callable[[int], Awaitable[bytes]],
    chunk: bytes,
    count: int,
) -> None:
    """Send ``count`` chunks from a task while receiving as many bytes back (asyncio).

    ``receive`` returns ``b""`` at end of stream.

    Raises:
        EndOfStreamError: the output ended early.
    """

    async def write() -> None:
        for _ in range(count):
            await send(chunk)

    size = len(chunk)
    expected = count * size
    async with asyncio.TaskGroup() as group:
        group.create_task(write())
        got = 0
        while got < expected:
            data = await receive(size)
            if not data:
                raise _short(got, expected)
            got += len(data)


@ASYNCIO_STREAMS.client("bulk-pipeline")
async def asyncio_pipeline(channel: Channel, workload: Workload) -> float:
    """``create_subprocess_exec`` twice joined by an ``os.pipe``; a writer task + ``read(n)``.

    Every chunk is written with ``write`` + ``await drain()``.
    """
    channel.close()
    cat = program_path("cat")
    between_r, between_w = os.pipe()
    stages: list[asyncio.subprocess.Process] = []
    try:
        stages.append(
            await asyncio.create_subprocess_exec(cat, stdin=subprocess.PIPE, stdout=between_w)
        )
        stages.append(
            await asyncio.create_subprocess_exec(cat, stdin=between_r, stdout=subprocess.PIPE)
        )
    except BaseException:
        for stage in stages:
            stage.kill()
            await stage.wait()
        raise
    finally:
        os.close(between_r)
        os.close(between_w)
    first, last = stages
    assert first.stdin is not None
    assert last.stdout is not None
    stdin, stdout = first.stdin, last.stdout

    async def send(chunk: bytes) -> None:
        stdin.write(chunk)
        await stdin.drain()

    finished = False
    try:
        chunk = b"b" * workload.size
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            start = time.perf_counter()
            await _transfer(send, stdout.read, chunk, count)
            elapsed = time.perf_counter() - start
        stdin.close()
        await stdin.wait_closed()
        if await stdout.read(1):
            raise EndOfStreamError("the pipeline wrote more than it was given")
        finished = True
    finally:
        if not finished:
            for stage in stages:
                if stage.returncode is None:
                    stage.kill()
        stdin.close()
        statuses = [await stage.wait() for stage in stages]
        # The transports close their pipes in callbacks this sleep lets run.
        await asyncio.sleep(0)
    _check_failures(sum(s != 0 for s in statuses), len(stages), "pipeline stages")
    return elapsed


@AIOIPC.client("bulk-pipeline")
async def aioipc_pipeline(channel: Channel, workload: Workload) -> float:
    """``open_pipeline([cat], [cat], stdin=PIPE, stdout=PIPE)``; ``send`` and ``receive(n)``.

    Leaving the block closes the pipes and waits for both stages; it raises if a stage
    failed (``check`` is on by default).
    """
    channel.close()
    cat = program_path("cat")
    async with aioipc.open_pipeline([cat], [cat], stdin=aioipc.PIPE, stdout=aioipc.PIPE) as pipe:
        assert pipe.stdin is not None
        assert pipe.stdout is not None
        stdout = pipe.stdout

        async def receive(max_bytes: int) -> bytes:
            try:
                return await stdout.receive(max_bytes)
            except anyio.EndOfStream:
                return b""

        chunk = b"b" * workload.size
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            start = time.perf_counter()
            await _transfer(pipe.stdin.send, receive, chunk, count)
            elapsed = time.perf_counter() - start
        await pipe.stdin.aclose()
        if await receive(1):
            raise EndOfStreamError("the pipeline wrote more than it was given")
    return elapsed


@ANYIO.client("bulk-pipeline")
async def anyio_pipeline(channel: Channel, workload: Workload) -> float:
    """``anyio.open_process`` twice joined by an ``os.pipe``; a sender task + ``receive(n)``."""
    channel.close()
    cat = program_path("cat")
    between_r, between_w = os.pipe()
    try:
        first = await anyio.open_process(
            [cat], stdin=subprocess.PIPE, stdout=between_w, stderr=None
        )
        try:
            last = await anyio.open_process(
                [cat], stdin=between_r, stdout=subprocess.PIPE, stderr=None
            )
        except BaseException:
            await first.aclose()
            raise
    finally:
        os.close(between_r)
        os.close(between_w)
    async with first, last:
        assert first.stdin is not None
        assert last.stdout is not None
        stdin, stdout = first.stdin, last.stdout
        chunk = b"b" * workload.size
        size = workload.size
        elapsed = 0.0
        for count in (workload.warmup, workload.iterations):
            expected = count * size

            async def write(count: int = count) -> None:
                for _ in range(count):
                    await stdin.send(chunk)

            start = time.perf_counter()
            async with anyio.create_task_group() as group:
                group.start_soon(write)
                got = 0
                try:
                    while got < expected:
                        got += len(await stdout.receive(size))
                except anyio.EndOfStream:
                    raise _short(got, expected) from None
            elapsed = time.perf_counter() - start
        await stdin.aclose()
        with contextlib.suppress(anyio.EndOfStream):
            await stdout.receive(1)
            raise EndOfStreamError("the pipeline wrote more than it was given")
    statuses = [first.returncode, last.returncode]
    _check_failures(sum(s != 0 for s in statuses), len(statuses), "pipeline stages")
    return elapsed
