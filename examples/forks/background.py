"""Run a command in the background, nothing to reap: perlipc's ``system("cmd &")``.

perlipc ("Background Processes")::

    system("cmd &");

"You won't need to catch SIGCHLD because of the double-fork taking place."
:func:`aioipc.spawn_detached` is that double fork without a shell: the first child
starts the command and exits at once (and is reaped right away), so the command is
not our child and there is nothing to reap.  It runs in a session of its own, with
stdio on ``/dev/null`` unless given -- here stdout goes to ``--output``.  A command that
cannot be started fails here, in the caller, not in some forgotten background shell::

    python examples/forks/background.py [--loop asyncio|uvloop] --output FILE [CMD ...]

The default command is ``echo the background job ran``.  The program prints the
command's pid and returns at once, without waiting for it.
"""

from __future__ import annotations

import argparse
import os

import aioipc


async def main(command: list[str], output: str) -> int:
    with open(output, "wb") as out:
        try:
            pid = await aioipc.spawn_detached(command, stdout=out)
        except OSError as exc:
            print(f"cannot start {command[0]!r}: {exc.strerror}", flush=True)
            return 1
    print(f"started {command[0]!r} in the background as pid {pid}", flush=True)
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        print("nothing to reap: it is not our child", flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--output", required=True, help="where the command's stdout goes")
    parser.add_argument("command", nargs="*", default=["echo", "the background job ran"])
    options = parser.parse_args()
    raise SystemExit(aioipc.run(main(options.command, options.output), loop=options.loop))
