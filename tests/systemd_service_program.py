"""A service for the fake service manager: ``python systemd_service_program.py MODE LOOP``.

MODE is one of:

* ``notify``: sends ``READY=1`` with a ``STATUS``, then ``RELOADING=1``, then
  ``STOPPING=1``, printing what each ``notify()`` returned, and exits.
* ``watchdog``: prints the watchdog interval, runs ``aioipc.systemd.watchdog()`` until
  stdin is closed, and exits.
* ``listen``: takes the activated sockets with ``listen_fds_with_names()``, serves
  them with ``aioipc.serve`` (each connection gets ``NAME: LINE`` for the line it sent),
  sends ``READY=1`` with ``STATUS=serving NAME,NAME…``, and stops when stdin closes,
  printing whether the ``LISTEN_*`` variables are gone.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable

import aioipc
import aioipc.systemd


async def wait_for_eof() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.buffer.read)


async def notify_mode() -> None:
    print(aioipc.systemd.notify(READY=1, STATUS="up and running"), flush=True)
    print(aioipc.systemd.notify(RELOADING=1), flush=True)
    print(aioipc.systemd.notify(STOPPING=1, STATUS="bye"), flush=True)


async def watchdog_mode() -> None:
    print(aioipc.systemd.watchdog_interval(), flush=True)
    async with aioipc.systemd.watchdog() as interval:
        print(f"watching {interval}", flush=True)
        await wait_for_eof()


async def listen_mode() -> None:
    named = aioipc.systemd.listen_fds_with_names()

    def answer_as(name: str) -> Callable[[aioipc.Stream], Awaitable[None]]:
        async def handler(stream: aioipc.Stream) -> None:
            line = await stream.readline()
            await stream.send_line(f"{name}: {line.decode()}")

        return handler

    for name, sock in named:
        print(f"{name} {sock.fileno()} {sock.family.name} {sock.type.name}", flush=True)
    servers = [await aioipc.serve(answer_as(name), sock) for name, sock in named]
    try:
        names = ",".join(name for name, _ in named)
        gone = not any(key.startswith("LISTEN_") for key in os.environ)
        aioipc.systemd.notify(READY=1, STATUS=f"serving {names}")
        print(f"environment cleared: {gone}", flush=True)
        await wait_for_eof()
    finally:
        for server in servers:
            await server.close()


MODES = {"notify": notify_mode, "watchdog": watchdog_mode, "listen": listen_mode}

if __name__ == "__main__":
    mode, loop = sys.argv[1], sys.argv[2]
    aioipc.run(MODES[mode](), loop=loop)  # type: ignore[arg-type]
