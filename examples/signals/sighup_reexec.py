"""A daemon that restarts itself on SIGHUP by exec'ing itself with the same arguments.

perlipc ("Handling the SIGHUP Signal in Daemons")::

    my $SELF = catfile $FindBin::Bin, $script;
    my $sigset = POSIX::SigSet->new();
    my $action = POSIX::SigAction->new('sigHUP_handler', $sigset, &POSIX::SA_NODEFER);
    POSIX::sigaction(&POSIX::SIGHUP, $action);
    sub sigHUP_handler {
        print "got SIGHUP\\n";
        exec($SELF, @ARGV) or die "Couldn't restart: $!\\n";
    }

Perl needs ``SA_NODEFER`` because it execs from inside the signal handler, where SIGHUP
is blocked -- and a blocked signal stays blocked across exec.  aioipc runs the reaction
in the event loop, outside signal context, so that problem cannot arise; better still,
this program leaves the loop first (``aioipc.run`` closes it and restores every signal
disposition) and only then calls ``aioipc.reexec()``, which clears the signal mask and
execs the same command line.  The pid stays the same, the arguments (and interpreter
options) are preserved, the script is found by absolute path whatever the current
directory, and an environment variable counts the generations::

    python examples/signals/sighup_reexec.py [--loop asyncio|uvloop] [--tick 2] [words...]
    # elsewhere: kill -HUP <pid> to restart it, kill -TERM <pid> to stop it

It prints ``READY`` once the handlers are installed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal

import aioipc

GENERATION = "AIOIPC_EXAMPLE_GENERATION"


async def code(tick: float) -> None:
    """Stands for the daemon's real work (perlipc prints a counter every 2 seconds)."""
    count = 0
    while tick > 0:
        await asyncio.sleep(tick)
        count += 1
        print(count, flush=True)
    await asyncio.Event().wait()


async def main(words: list[str], tick: float) -> bool:
    """Run until SIGHUP (return True: restart) or SIGTERM (return False: stop)."""
    print(f"PID: {os.getpid()}", flush=True)
    print(f"ARGV: {words}", flush=True)
    print(f"generation {os.environ.get(GENERATION, '1')}", flush=True)
    async with aioipc.open_signal_stream(signal.SIGHUP, signal.SIGTERM) as signals:
        worker = asyncio.create_task(code(tick))
        print("READY", flush=True)
        signum = await signals.receive()
        worker.cancel()
    if signum == signal.SIGHUP:
        print("got SIGHUP; restarting", flush=True)
        return True
    print(f"got {aioipc.signal_name(signum)}; exiting", flush=True)
    return False


def restart() -> None:
    """Replace this process with a fresh run of this script, same arguments."""
    os.environ[GENERATION] = str(int(os.environ.get(GENERATION, "1")) + 1)
    aioipc.reexec()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--tick", type=float, default=2.0, help="seconds between ticks; 0: none")
    parser.add_argument("words", nargs="*")
    args = parser.parse_args()
    if aioipc.run(main(args.words, args.tick), loop=args.loop):
        restart()
