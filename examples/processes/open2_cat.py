"""Bidirectional communication with another process: perlipc's open2 ``cat -u -n``.

perlipc ("Bidirectional Communication with Another Process")::

    use IPC::Open2;
    $pid = open2(*Reader, *Writer, "cat -u -n" );
    print Writer "stuff\\n";
    $got = <Reader>;

``open_process(argv, stdin=PIPE, stdout=PIPE)`` is open2.  Line by line, it works
because ``cat -u`` does not buffer -- perlipc's warning that "Unix buffering is really
going to ruin your day" stands for most other programs.  The second half is the other
cure: ``communicate()`` writes everything and reads everything at once, so neither
side can block the other however much data flows (with ``-n``, cat's output is larger
than its input, the classic way to deadlock a write-all-then-read-all parent)::

    python examples/processes/open2_cat.py [--loop asyncio|uvloop] [--lines N]
"""

from __future__ import annotations

import argparse

import aioipc
from aioipc import PIPE


async def line_by_line() -> None:
    async with aioipc.open_process(["cat", "-u", "-n"], stdin=PIPE, stdout=PIPE) as cat:
        assert cat.stdin is not None
        assert cat.stdout is not None
        for word in ("stuff", "more stuff", "the end"):
            await cat.stdin.send_line(word)
            got = await cat.stdout.readline()
            print(f"got back {got.decode()!r}", flush=True)
    # Leaving the block closed cat's stdin; cat saw EOF and exited.
    print(f"cat -u -n {cat.status}", flush=True)


async def all_at_once(count: int) -> None:
    data = b"".join(b"line %d\n" % i for i in range(1, count + 1))
    async with aioipc.open_process(["cat", "-n"], stdin=PIPE, stdout=PIPE) as cat:
        out, _ = await cat.communicate(data)
    lines = out.splitlines()
    print(f"sent {len(data)} bytes, got {len(out)} bytes in {len(lines)} lines", flush=True)
    print(f"last: {lines[-1].decode()!r}", flush=True)


async def main(count: int) -> int:
    await line_by_line()
    await all_at_once(count)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--lines", type=int, default=100_000, help="lines to communicate()")
    args = parser.parse_args()
    raise SystemExit(aioipc.run(main(args.lines), loop=args.loop))
