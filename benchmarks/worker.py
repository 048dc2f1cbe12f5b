"""The measured side of one measurement, in a process of its own.

    python -m benchmarks.worker --impl NAME --scenario NAME [--loop LOOP]
        --size N --warmup N --iterations N [--cpus 0,1] [--cold-heap]
        [--ready FD] SPEC

Each measurement runs in a fresh interpreter so that nothing one implementation did
shapes the next one's figures: what ran before in the same process decides, among
other things, how glibc's malloc serves the event loops' 256 KiB read buffers (see
:func:`settle_heap`), and that alone moved some figures by 2-5x.

``SPEC`` is the worker's side of the channel (JSON, see ``_channels.py``). The worker
waits for the peer's ready byte on ``--ready FD`` (when there is a peer), pins itself
to ``--cpus`` if given, collects garbage, settles the heap unless ``--cold-heap``, runs the
implementation's client on a fresh event loop, and prints one JSON line:
``{"elapsed": seconds, "leaked_fds": "..."}``, where ``leaked_fds`` describes
descriptors the client left open (empty if none).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import select
import sys
from collections.abc import Sequence
from typing import cast

import anyio

import aioipc

from ._catalog import IMPLEMENTATIONS, SCENARIOS
from ._channels import Channel, ChannelSpec
from ._fds import describe, open_fds
from ._protocol import READY
from ._registry import LOOPS, AsyncClient, Implementation, LoopName, SyncClient, Workload

#: The block :func:`settle_heap` allocates and frees: larger than the 256 KiB reads of
#: asyncio's selector transport and of uvloop, so that neither is served by ``mmap``
#: afterwards. With it, the measured mmap/mremap/munmap and brk calls of ping-pong and
#: bulk receive fell to what ``MALLOC_MMAP_THRESHOLD_=4194304`` gives.
HEAP_SETTLER = 1 << 20

#: How long the peer may take to start (a cold interpreter on a loaded machine). Only
#: there so that a broken peer fails the run instead of hanging it.
PEER_START_TIMEOUT = 30.0


class WorkerError(Exception):
    """The measurement could not be made as asked."""


def settle_heap() -> None:
    """Put glibc's malloc in the state a long-running process is normally in.

    glibc serves blocks above a threshold (128 KiB at start) with ``mmap``, and raises
    the threshold to a block's size the first time such a block is *freed*; the trim
    threshold follows at twice that. A fresh interpreter may or may not have freed one
    during its imports, and the transports' 256 KiB reads, shrunk with ``realloc``
    before they are freed, never do: so a fresh process pays ``mmap`` + ``mremap`` +
    ``munmap`` (or ``brk`` trimming) on every read, or not, depending on its import
    history. Freeing one large block first makes that the same for every
    implementation; ``--cold-heap`` skips it, to show the fresh-process behaviour.
    """
    block = bytearray(HEAP_SETTLER)
    del block


def drive(
    impl: Implementation,
    scenario: str,
    channel: Channel,
    workload: Workload,
    loop: LoopName | None,
) -> float:
    """Run one client on a fresh loop of the right kind; return its timed seconds."""
    client = impl.clients[scenario]
    if impl.driver == "blocking":
        return cast(SyncClient, client)(channel, workload)
    if loop is None:
        raise WorkerError(f"{impl.name} runs on an event loop; none was given")
    async_client = cast(AsyncClient, client)
    factory = aioipc.loop_factory(loop)
    if impl.driver == "asyncio":
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(async_client(channel, workload))
    return anyio.run(
        async_client,
        channel,
        workload,
        backend="asyncio",
        backend_options={"loop_factory": factory},
    )


def _wait_ready(fd: int) -> None:
    """Wait (bounded) for the peer's ready byte on ``fd``, then close it."""
    try:
        readable, _, _ = select.select([fd], [], [], PEER_START_TIMEOUT)
        if not readable or os.read(fd, 1) != READY:
            raise WorkerError("the peer did not report ready")
    finally:
        os.close(fd)


def main(argv: Sequence[str] | None = None) -> int:
    """Make one measurement; print its JSON line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__)
    parser.add_argument("--impl", required=True, choices=sorted(IMPLEMENTATIONS))
    parser.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    parser.add_argument("--loop", choices=LOOPS)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--iterations", type=int, required=True)
    parser.add_argument("--cpus", help="comma-separated CPUs to pin this process to")
    parser.add_argument(
        "--cold-heap", action="store_true", help="leave malloc as a fresh process has it"
    )
    parser.add_argument("--ready", type=int, help="fd on which the peer reports ready")
    parser.add_argument("spec", type=ChannelSpec.from_json, help="this side's channel (JSON)")
    args = parser.parse_args(argv)

    impl = IMPLEMENTATIONS[args.impl]
    workload = Workload(size=args.size, warmup=args.warmup, iterations=args.iterations)
    if args.loop is not None:
        # uvloop opens a process-wide signal pipe with its first loop and keeps it:
        # open it before counting fds, so the client is not blamed for it.
        aioipc.new_event_loop(args.loop).close()
    spec: ChannelSpec = args.spec
    channel = Channel.from_spec(spec)
    before = open_fds()
    try:
        if args.ready is not None:
            _wait_ready(args.ready)
            before.pop(args.ready, None)
        if args.cpus:
            os.sched_setaffinity(0, {int(cpu) for cpu in args.cpus.split(",")})
        gc.collect()
        if not args.cold_heap:
            settle_heap()
        elapsed = drive(impl, args.scenario, channel, workload, args.loop)
        # The client owns the channel: its fds must be closed now, like any it opened.
        for fd in spec.fds:
            before.pop(fd, None)
        after = open_fds()
        leaked = {fd: target for fd, target in after.items() if before.get(fd) != target}
    except (WorkerError, OSError) as exc:
        print(f"benchmarks.worker {args.impl}: {exc}", file=sys.stderr)
        return 1
    finally:
        channel.close()
    print(json.dumps({"elapsed": elapsed, "leaked_fds": describe(leaked)}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the harness reports it
        sys.exit(130)
