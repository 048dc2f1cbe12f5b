"""A print spooler fed through a pipeline: perlipc's ``| cat -v | lpr``.

perlipc ("Using open() for IPC")::

    open(SPOOLER, "| cat -v | lpr -h 2>/dev/null")
                    || die "can't fork: $!";
    local $SIG{PIPE} = sub { die "spooler pipe broke" };
    print SPOOLER "stuff\\n";
    close SPOOLER || die "bad spool: $! $?";

``aioipc.open_pipeline`` runs the same two commands without a shell: ``cat -v``'s
stdout is joined to the spooler's stdin by a kernel pipe, so the bytes between them
never pass through Python.  ``wc -c`` stands in for ``lpr`` (it "prints" the byte
count to our stdout), and ``--jam`` replaces it with a printer that fails.  There is no
SIGPIPE to trap: a spooler that dies makes ``send()`` raise ``aioipc.BrokenPipe``
naming it, and leaving the block waits for every stage and raises
``aioipc.PipelineError`` naming each one that failed -- ``close SPOOLER || die``::

    python examples/processes/spooler.py [--loop asyncio|uvloop] [--jam]
"""

from __future__ import annotations

import argparse

import aioipc
from aioipc import DEVNULL, PIPE

#: What we print: text with a bell and an escape, which ``cat -v`` makes visible.
JOB = [b"stuff\n", b"bell \x07 and escape \x1b[0m\n"]
LPR = ["wc", "-c"]
#: A printer that takes the job and fails (its complaint goes to /dev/null, as in Perl).
JAMMED = ["sh", "-c", "cat >/dev/null; echo 'lpr: paper jam' >&2; exit 2"]


async def main(jam: bool) -> int:
    lpr = JAMMED if jam else LPR
    try:
        # 2>/dev/null: every stage's stderr goes to /dev/null.
        async with aioipc.open_pipeline(["cat", "-v"], lpr, stdin=PIPE, stderr=DEVNULL) as spooler:
            assert spooler.stdin is not None
            for chunk in JOB:
                await spooler.stdin.send(chunk)
            name = "a jammed printer" if jam else "wc -c"
            print(f"sent {sum(map(len, JOB))} bytes to cat -v | {name}", flush=True)
    except aioipc.BrokenPipe as error:
        print(f"spooler pipe broke: {error}", flush=True)
        return 1
    except aioipc.PipelineError as error:
        print(f"bad spool: {error}", flush=True)
        return 1
    # Leaving the block closed the pipe, waited for both stages and checked them.
    print("spooled fine", flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--jam", action="store_true", help="use a spooler that fails")
    args = parser.parse_args()
    raise SystemExit(aioipc.run(main(args.jam), loop=args.loop))
