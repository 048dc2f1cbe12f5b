"""A systemd-style service: socket activation, readiness, watchdog, reload on SIGHUP.

Each connection sends a line and gets back ``GREETING, LINE``, where ``GREETING`` comes
from the configuration file (``greeting = hello``).  The service

* serves on the sockets the manager passed (socket activation), or else on
  ``--address`` (default ``tcp://127.0.0.1:0``);
* sends ``READY=1`` and a ``STATUS`` once it listens, and prints ``READY ADDRESS…``;
* pings the watchdog at half of ``WatchdogSec=`` while it runs;
* on SIGHUP sends ``RELOADING=1`` (with ``MONOTONIC_USEC``), re-reads the
  configuration -- keeping the old one if the new one is broken -- and sends ``READY=1``
  again, as ``Type=notify-reload`` expects;
* on SIGTERM sends ``STOPPING=1``, drains its connections and exits 0.

Run it by hand (no manager: every notify() is a no-op)::

    echo 'greeting = hello' > /tmp/greet.conf
    python examples/systemd/notify_service.py /tmp/greet.conf [--loop asyncio|uvloop]

or under systemd with the units in ``docs/systemd.md``.
"""

from __future__ import annotations

import argparse
import signal
import socket

import aioipc
import aioipc.systemd


def read_config(path: str) -> dict[str, str]:
    """Parse ``key = value`` lines; ``#`` starts a comment."""
    config: dict[str, str] = {}
    with open(path, encoding="utf-8") as file:
        for number, raw in enumerate(file, 1):
            line = raw.split("#", 1)[0].strip()
            if line:
                key, sep, value = line.partition("=")
                if not sep:
                    raise ValueError(f"{path}:{number}: expected 'key = value'")
                config[key.strip()] = value.strip()
    return config


async def main(config_path: str, address: str) -> None:
    config = read_config(config_path)

    async def greet(stream: aioipc.Stream) -> None:
        line = (await stream.readline()).decode()
        await stream.send_line(f"{config.get('greeting', 'hello')}, {line}")

    # The manager's sockets when it passed some (socket activation), else --address.
    listen: list[socket.socket | str] = [*aioipc.systemd.listen_fds()] or [address]
    async with (
        aioipc.open_signal_stream(signal.SIGHUP, signal.SIGTERM) as signals,
        aioipc.serve(greet, *listen) as server,
        aioipc.systemd.watchdog(),
    ):
        where = " ".join(str(a) for a in server.addresses)
        aioipc.systemd.notify(READY=1, STATUS=f"serving on {where}")
        print(f"READY {where}", flush=True)
        async for signum in signals:
            if signum == signal.SIGTERM:
                aioipc.systemd.notify(STOPPING=1, STATUS="stopping")
                break
            aioipc.systemd.notify(RELOADING=1, STATUS="reloading")
            try:
                config = read_config(config_path)
                status = f"serving on {where}, configuration reloaded"
            except (OSError, ValueError) as error:
                status = f"serving on {where}, reload failed, old configuration kept: {error}"
            aioipc.systemd.notify(READY=1, STATUS=status)
            print(status, flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--address", default="tcp://127.0.0.1:0")
    parser.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"])
    args = parser.parse_args()
    aioipc.run(main(args.config, args.address), loop=args.loop)
