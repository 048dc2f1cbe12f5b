"""Forks from a process with buffered output, a ``finally`` and an ``atexit`` handler.

Run by ``tests/test_fork.py``: each of those must show up exactly once, from the parent.
The first line stays in stdout's buffer until the fork (stdout is a pipe, so Python
buffers it by blocks)::

    python tests/fork_atexit_program.py --loop asyncio|uvloop
"""

from __future__ import annotations

import argparse
import atexit
import os

import aioipc


def child() -> None:
    print(f"child {os.getpid()} ran")


async def main() -> None:
    print("buffered before the fork")
    try:
        async with aioipc.open_fork(child) as proc:
            pass
        print(f"parent: the child exited with {proc.returncode}")
    finally:
        print(f"finally ran in {os.getpid()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    atexit.register(lambda: print(f"atexit ran in {os.getpid()}"))
    aioipc.run(main(), loop=options.loop)
