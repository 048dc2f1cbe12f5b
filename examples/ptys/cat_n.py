"""perlipc's ``open_proc('cat -n')`` loop, on a pseudo-terminal.

perlipc ("Bidirectional Communication with Another Process")::

    $pid = open_proc('cat -n');
    for (1..10) {
        print Writer "line $_\\n";
        $got = <Reader>;
        print $got;
    }

On pipes this deadlocks as soon as ``cat`` buffers its output; on a terminal ``cat``
writes each line as it reads it, so the loop works.  The terminal's echo is turned
off (``echo=False``) so that only ``cat``'s numbered lines come back::

    python examples/ptys/cat_n.py [--loop asyncio|uvloop] [--echo]

With ``--echo`` the terminal echoes each line typed before ``cat`` prints it.
"""

from __future__ import annotations

import argparse

import aioipc


async def main(echo: bool) -> int:
    async with aioipc.open_pty(["cat", "-n"], echo=echo) as term:
        for i in range(1, 11):
            await term.send_line(f"line {i}")
            if echo:
                print("echo:", (await term.readline()).decode(), flush=True)
            print((await term.readline()).decode(), flush=True)
        await term.send(b"\x04")  # Ctrl-D at the start of a line: cat sees EOF
        status = await term.wait()
    print(f"cat -n {status}", flush=True)
    return 0 if status.success else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--echo", action="store_true", help="leave terminal echo on")
    options = parser.parse_args()
    raise SystemExit(aioipc.run(main(options.echo), loop=options.loop))
