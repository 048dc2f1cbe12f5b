"""Talk to a child through two pipes: feed ``sort`` its input, read back its output.

perlipc ("Bidirectional Communication with Another Process") warns that writing all
of a child's input before reading any of its output deadlocks as soon as both pipes
fill up, and reaches for ``open2``.  Here the pipes are :class:`aioipc.Stream` objects,
so the feeding and the reading simply run as two tasks: neither can block the other.

The pipes are made with ``os.pipe()`` and handed to the child with
``asyncio.create_subprocess_exec``; the parent closes the child's ends, wraps its own
with :meth:`aioipc.Stream.from_fd`, and reaps the child at the end.  Closing the
writing stream is what tells ``sort`` its input is over.  (aioipc's own process API,
``open_process`` in the design, will do the plumbing; this is what it does by hand.)

    python examples/streams/pipe_to_child.py [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os

import uvloop

import aioipc

WORDS = ["signals", "pipes", "FIFOs", "sockets", "ptys", "semaphores", "daemons"]


async def feed(stream: aioipc.Stream, lines: list[str]) -> None:
    async with stream:  # leaving the block closes the pipe: sort sees EOF
        for line in lines:
            await stream.send_line(line)


async def collect(stream: aioipc.Stream) -> list[str]:
    async with stream:
        return [line.decode() async for line in stream.lines()]


async def main() -> int:
    kind = "uvloop" if isinstance(asyncio.get_running_loop(), uvloop.Loop) else "asyncio"
    print(f"running on {kind}", flush=True)
    # os.pipe() fds are not inherited: the child gets only what stdin=/stdout= hand it.
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    try:
        child = await asyncio.create_subprocess_exec(
            "sort",
            stdin=to_child_r,
            stdout=from_child_w,
            env={**os.environ, "LC_ALL": "C"},  # byte order, whatever the locale
        )
    except BaseException:
        for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
            os.close(fd)
        raise
    # The child has its copies; ours must go, or sort's output never reaches EOF.
    os.close(to_child_r)
    os.close(from_child_w)
    try:
        # Each stream owns its fd from here on; leaving the block closes both (again:
        # feed() closes its stream as soon as the input is sent, and aclose() is
        # idempotent).
        async with (
            await aioipc.Stream.from_fd(to_child_w, "w", child_pid=child.pid) as to_sort,
            await aioipc.Stream.from_fd(from_child_r, "r", child_pid=child.pid) as from_sort,
            asyncio.TaskGroup() as tasks,
        ):
            tasks.create_task(feed(to_sort, WORDS))
            sorting = tasks.create_task(collect(from_sort))
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        raise
    finally:
        status = await child.wait()  # reap it, whatever happened above
    print(f"sent {len(WORDS)} lines to sort; it sent back:", flush=True)
    for line in sorting.result():
        print(f"  {line}", flush=True)
    print(f"sort exited with status {status}", flush=True)
    return status


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args()
    raise SystemExit(aioipc.run(main(), loop=args.loop))
