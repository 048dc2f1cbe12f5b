"""perlipc's ``.signature`` program: a FIFO that hands every reader a fresh signature.

perlipc ("Named Pipes")::

    For example, let's say you'd like to have your .signature file be a named pipe
    that has a Perl program on the other end.  Now every time any program (like a
    mailer, news reader, finger program, etc.) tries to read from that file, the
    reading program will block and your program will supply the new signature.

The Perl original loops: recreate the FIFO if it is gone (``-p``), ``open`` it for
writing (which blocks until a reader comes), print the signature, close, and
``sleep 2`` "to avoid dup signals" — a reader that has not yet read its EOF would
otherwise be reached by the next open and get a second signature.

Here ``aioipc.open_fifo(path, "w")`` waits for the reader without blocking the loop,
and there is no sleep: once the signature is written, and before the write end is
closed, a fresh FIFO is renamed over the path.  The reader just served holds the old
FIFO and sees its EOF; every later reader opens the new one, so each gets exactly one
signature, however quickly they come.  A FIFO removed or replaced by something else
(even while the server waits for a reader) is recreated, and the server says so once
the new FIFO is in place (``PATH was removed: recreated it``, or ``replaced``)::

    python examples/fifos/signature.py [PATH] [--count N] [--loop asyncio|uvloop]

``PATH`` defaults to ``~/.signature``; ``--count N`` stops after N readers (and removes
the FIFO); without it the server runs until interrupted.  Try ``cat PATH`` meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import stat
from pathlib import Path

import uvloop

import aioipc

SIGNATURE = "John Smith (smith@host.org)"
#: ``fortune -s`` stands in for this list, served in turn.
FORTUNES = [
    "Nothing is more permanent than a temporary solution.",
    "There is more than one way to do it.",
    "A FIFO is just a pipe with a name.",
    "Premature optimization is the root of all evil.",
]


def ensure_fifo(path: Path) -> str | None:
    """Perl's ``unless (-p $FIFO) { unlink $FIFO; mkfifo($FIFO, 0700) }``.

    Returns ``None`` if a FIFO was there, else what happened to it: ``"removed"`` or
    ``"replaced"`` (by a file, a symlink, ...: a directory is left alone and fails).
    """
    try:
        if stat.S_ISFIFO(os.lstat(path).st_mode):
            return None
        os.unlink(path)
        what = "replaced"
    except FileNotFoundError:
        what = "removed"
    aioipc.mkfifo(path, 0o700)
    return what


def replace_fifo(path: Path) -> None:
    """Rename a new FIFO over ``path``: a reader opening it never finds it missing."""
    fresh = path.with_name(f".{path.name}.{os.getpid()}.new")
    aioipc.mkfifo(fresh, 0o700)
    os.replace(fresh, path)


async def serve(path: Path, count: int | None) -> int:
    """Serve one signature per reader, ``count`` readers (or for ever)."""
    served = 0
    while count is None or served < count:
        if what := ensure_fifo(path):
            # Said once the new FIFO is in place: a reader may open it from now on.
            print(f"{path} was {what}: recreated it", flush=True)
        try:
            async with aioipc.open_fifo(path, "w") as fifo:  # waits for a reader
                fortune = FORTUNES[served % len(FORTUNES)]
                try:
                    await fifo.send(f"{SIGNATURE}\n{fortune}\n".encode())
                except aioipc.BrokenPipe:
                    continue  # the reader went away unserved: wait for the next one
                replace_fifo(path)  # before the reader sees EOF (see the docstring)
        except (FileNotFoundError, ValueError):
            # Removed, or replaced by something that is not a FIFO (open_fifo's check
            # raises ValueError), while we waited: ensure_fifo() recreates it.
            continue
        served += 1
    return served


async def main(path: Path, count: int | None) -> None:
    kind = "uvloop" if isinstance(asyncio.get_running_loop(), uvloop.Loop) else "asyncio"
    if ensure_fifo(path) == "replaced":  # missing at the start is no news
        print(f"{path} was replaced: recreated it", flush=True)
    print(f"serving {path} on {kind}", flush=True)
    try:
        served = await serve(path, count)
    finally:
        if count is not None and aioipc.is_fifo(path):
            path.unlink()
    print(f"served {served} readers", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=Path.home() / ".signature")
    parser.add_argument("--count", type=int, default=None, help="stop after N readers")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args()
    if args.count is not None and args.count < 1:
        parser.error("--count must be at least 1")
    aioipc.run(main(args.path, args.count), loop=args.loop)
