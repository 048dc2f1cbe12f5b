"""A daemon that re-reads its configuration on SIGHUP, without stopping.

perlipc ("Handling the SIGHUP Signal in Daemons"): "If a daemon process has a
configuration file which is modified after the process has been started, there should
be a way to tell that process to re-read its configuration file, without stopping the
process."  This is the reload-in-place form (``sighup_reexec.py`` is the re-exec form).

Work already running keeps the configuration it started with; work started after the
reload sees the new one.  A configuration that fails to parse is reported and the old
one kept.  Jobs come in on stdin, one command per line::

    start NAME     start job NAME; it takes a snapshot of the current configuration
    finish NAME    finish job NAME; it prints the configuration it ran with

EOF on stdin ends the daemon.  Try it::

    echo 'greeting = hello' > /tmp/daemon.conf
    python examples/signals/sighup_reload.py /tmp/daemon.conf [--loop asyncio|uvloop]
    # elsewhere: edit /tmp/daemon.conf, then kill -HUP <pid>

It prints ``READY`` once the SIGHUP handler is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

import aioipc

Config = dict[str, str]


def read_config(path: str) -> Config:
    """Parse ``key = value`` lines; ``#`` starts a comment."""
    config: Config = {}
    with open(path, encoding="utf-8") as file:
        for number, raw in enumerate(file, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"{path}:{number}: expected 'key = value', got {raw.strip()!r}")
            config[key.strip()] = value.strip()
    return config


def show(config: Config) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(config.items())) or "(empty)"


async def job(name: str, snapshot: Config, finish: asyncio.Event) -> None:
    await finish.wait()  # stands for real work that takes a while
    print(f"job {name} done with {show(snapshot)}", flush=True)


async def main(path: str) -> None:
    config = read_config(path)
    print(f"config: {show(config)}", flush=True)

    def reload(signum: int) -> None:
        nonlocal config
        try:
            config = read_config(path)
        except (OSError, ValueError) as exc:
            print(f"reload failed, keeping the old config: {exc}", flush=True)
            return
        print(f"reloaded on {aioipc.signal_name(signum)}: {show(config)}", flush=True)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    jobs: dict[str, tuple[asyncio.Event, asyncio.Task[None]]] = {}
    try:
        with aioipc.on_signal(signal.SIGHUP, reload):
            print(f"READY: pid {os.getpid()}", flush=True)
            async for raw in reader:
                command, _, name = raw.decode().strip().partition(" ")
                if command == "start" and name and name not in jobs:
                    finish = asyncio.Event()
                    jobs[name] = (finish, asyncio.create_task(job(name, dict(config), finish)))
                    print(f"job {name} started", flush=True)
                elif command == "finish" and name in jobs:
                    finish, task = jobs.pop(name)
                    finish.set()
                    await task
                else:
                    print(f"unknown command {raw.decode().strip()!r}", flush=True)
    finally:
        transport.close()
        for _, task in jobs.values():
            task.cancel()
    print("stdin closed; bye", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="path of the configuration file")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args()
    aioipc.run(main(args.config), loop=args.loop)
