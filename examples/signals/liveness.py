"""Is that process still there?  perlipc's ``kill 0`` check, as ``aioipc.is_alive``.

perlipc ("Signals")::

    unless (kill 0 => $kid_pid) {
        warn "something wicked happened to $kid_pid";
    }
    unless (kill 0 => $pid or $!{EPERM}) {
        warn "$pid looks dead";
    }

Signal 0 delivers nothing; it only asks the kernel whether the pid exists and whether
we may signal it.  EPERM still means "exists", so :func:`aioipc.is_alive` counts it as
alive.  A zombie -- exited but not yet reaped by its parent -- exists too, and is alive
by this test; once reaped, its pid is gone (and may later be reused by another
process, so only ask about processes you know)::

    python examples/signals/liveness.py [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import os

import aioipc


def report(what: str, pid: int) -> None:
    state = "alive" if aioipc.is_alive(pid) else "dead"
    print(f"{what} (pid {pid}): {state}", flush=True)


async def wait_exited_not_reaped(pid: int) -> None:
    """Wait until ``pid`` has exited, leaving it a zombie: a pidfd becomes readable."""
    loop = asyncio.get_running_loop()
    pidfd = os.pidfd_open(pid)
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(pidfd, readable)
    try:
        await exited
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


async def main() -> None:
    print("READY", flush=True)
    report("this process", os.getpid())

    # A child that runs until its stdin closes, watched and reaped by the loop.
    cat = await asyncio.create_subprocess_exec("cat", stdin=asyncio.subprocess.PIPE)
    report("running child", cat.pid)
    assert cat.stdin is not None
    cat.stdin.close()
    await cat.wait()
    report("reaped child", cat.pid)

    # A child nobody reaps yet: after it exits it is a zombie, and still "alive".
    pid = os.posix_spawn("/bin/true", ["true"], dict(os.environ))
    await wait_exited_not_reaped(pid)
    report("zombie child", pid)
    os.waitpid(pid, 0)
    report("zombie child after waitpid", pid)

    # init: alive -- whether kill(1, 0) succeeds (root) or fails with EPERM.
    report("init", 1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args()
    aioipc.run(main(), loop=args.loop)
