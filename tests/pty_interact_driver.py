"""Runs on an outer pty (tests/test_pty.py): Terminal.interact() between it and an inner one.

``python pty_interact_driver.py LOOP INNER...`` opens INNER on a pty, calls
``interact()`` and then prints how it ended and whether our terminal's settings
came back exactly as they were.  SIGUSR1 cancels the interact() call.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import termios

from aioipc._loop import run
from aioipc._pty import open_pty
from aioipc._signals import on_signal


async def main(inner: list[str]) -> None:
    before = termios.tcgetattr(0)
    async with open_pty(inner) as term:
        task = asyncio.ensure_future(term.interact())
        with on_signal(signal.SIGUSR1, lambda signum: task.cancel()):
            try:
                result = f"ESCAPED {await task}"
            except asyncio.CancelledError:
                result = "CANCELLED"
    after = termios.tcgetattr(0)
    print(f"{result} RESTORED {after == before}", flush=True)


if __name__ == "__main__":
    run(main(sys.argv[2:]), loop=sys.argv[1])  # type: ignore[arg-type]
