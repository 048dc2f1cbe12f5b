"""A complete daemon: locked pidfile, log file, SIGHUP reload in place, SIGTERM stop.

perlipc's "Complete Dissociation of Child from Parent" with "Handling the SIGHUP Signal
in Daemons" (the reload-in-place form)::

    python examples/daemons/daemon.py --pidfile /tmp/d.pid --log /tmp/d.log \\
        --config /tmp/d.conf [--loop asyncio|uvloop]
    cat /tmp/d.pid; kill -HUP $(cat /tmp/d.pid); kill -TERM $(cat /tmp/d.pid)

The command returns once the daemon runs (exit status 0), or fails in your terminal:
"already running as pid N" when another instance holds the pidfile.  The daemon writes
to the log: ``started as pid N`` with its configuration, ``reloaded: ...`` on SIGHUP
(the configuration file holds one line, the greeting), ``stopping`` on SIGTERM; at exit
it removes its pidfile.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import aioipc


def read_config(path: str) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read().strip()


async def serve(config_path: str) -> None:
    greeting = read_config(config_path)
    async with aioipc.open_signal_stream(signal.SIGHUP, signal.SIGTERM) as signals:
        print(f"started as pid {os.getpid()}: {greeting}", flush=True)
        async for signum in signals:
            if signum == signal.SIGTERM:
                break
            try:
                greeting = read_config(config_path)
            except OSError as exc:
                print(f"reload failed, keeping {greeting!r}: {exc}", flush=True)
            else:
                print(f"reloaded: {greeting}", flush=True)
    print("stopping", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pidfile", required=True)
    parser.add_argument("--log", required=True, help="stdout and stderr of the daemon")
    parser.add_argument("--config", required=True)
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args()
    # Absolute, because the daemon runs in "/".
    config = os.path.abspath(args.config)
    try:
        aioipc.daemonize(pidfile=args.pidfile, stdout=args.log, stderr=args.log)
    except (aioipc.DaemonizeError, OSError) as exc:
        print(f"{sys.argv[0]}: {exc}", file=sys.stderr)
        return 1
    aioipc.run(serve(config), loop=args.loop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
