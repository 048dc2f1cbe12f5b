"""A program that daemonizes, describes itself into a FIFO, and runs until SIGTERM.

Used by tests/test_daemon.py::

    python tests/daemon_program.py READY_FIFO [--pidfile P] [--umask 0o027]
        [--chdir DIR|--no-chdir] [--stdin PATH] [--stdout PATH|--stdout-fd FD]
        [--stderr-file PATH] [--keep-fds] [--loop asyncio|uvloop]

After ``aioipc.daemonize()`` returns it records what it looks like -- pid, parent,
session, process group, controlling terminal, cwd, umask, open fds -- writes that as
one JSON line into READY_FIFO (which the test opened for reading) and waits for SIGTERM,
on which it exits normally (so ``atexit`` removes the pidfile).  With ``--loop`` it runs
a loop of that kind before daemonizing and another one in the daemon, which starts a
child process.  It prints a line on
stdout, for a test that gives it a file or an fd (``--stdout-fd``: an fd this program
inherited), and one on stderr with ``--stderr-file`` (which it opens itself and passes
as a file object).  With ``--stdin`` it reads its stdin to the end and reports it as
``stdin``.  ``--keep-fds`` passes ``close_fds=False``.  A refusal or setup error is
printed on stderr, in the caller, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys

import aioipc


def describe() -> dict[str, object]:
    with open("/proc/self/stat", encoding="ascii") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the directory fd listdir used is gone
            fds[name] = os.readlink(f"/proc/self/fd/{name}")
    umask = os.umask(0)
    os.umask(umask)
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "pgid": os.getpgid(0),
        "sid": os.getsid(0),
        "tty_nr": int(fields[4]),
        "cwd": os.getcwd(),
        "umask": umask,
        "fds": fds,
    }


async def echo() -> str:
    """The daemon's own loop works: it starts children (aioipc's and the loop's own)."""
    result = await aioipc.run_process(["echo", "from a child of the daemon"])
    # The loop's own subprocess_exec: on uvloop, libuv's at-fork signal pipe is needed.
    proc = await asyncio.create_subprocess_exec("true")
    assert await proc.wait() == 0
    return result.stdout.decode()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("ready")
    parser.add_argument("--pidfile")
    parser.add_argument("--umask", type=lambda text: int(text, 0), default=0o022)
    parser.add_argument("--chdir", default="/")
    parser.add_argument("--no-chdir", action="store_true")
    parser.add_argument("--stdin")
    parser.add_argument("--stdout")
    parser.add_argument("--stdout-fd", type=int)
    parser.add_argument("--stderr-file")
    parser.add_argument("--keep-fds", action="store_true")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"])
    args = parser.parse_args()
    if args.loop is not None:
        # A loop that ran and closed before daemonize() is fine (uvloop leaves its
        # process-wide signal pipe behind, which the daemon must keep).
        aioipc.run(asyncio.sleep(0), loop=args.loop)
    stderr_file = open(args.stderr_file, "a") if args.stderr_file else None  # noqa: SIM115
    try:
        aioipc.daemonize(
            pidfile=args.pidfile,
            umask=args.umask,
            chdir=None if args.no_chdir else args.chdir,
            stdin=args.stdin,
            stdout=args.stdout_fd if args.stdout_fd is not None else args.stdout,
            stderr=stderr_file,
            close_fds=not args.keep_fds,
        )
    except (aioipc.DaemonizeError, OSError) as exc:
        print(f"daemon_program: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    # Only the daemon gets here.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    info = describe()
    if args.loop is not None:
        info["run_process"] = aioipc.run(echo(), loop=args.loop)
    if args.stdin is not None:
        info["stdin"] = sys.stdin.read()
    print(f"hello from daemon {os.getpid()}", flush=True)
    if stderr_file is not None:
        print(f"stderr of daemon {os.getpid()}", file=sys.stderr, flush=True)
    with open(args.ready, "w", encoding="utf-8") as fifo:
        fifo.write(json.dumps(info) + "\n")
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
