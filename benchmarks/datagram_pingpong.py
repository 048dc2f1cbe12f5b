"""64-byte UDP ping-pong over loopback: aioipc's DatagramSocket against an endpoint.

``python -m benchmarks.datagram_pingpong [--rounds N] [--repeat R]``

A raw blocking echo peer runs in a child process; the measured side sends a 64-byte
datagram and waits for it to come back, ``--rounds`` times, on asyncio's default loop
and on uvloop.  Two implementations are compared:

* ``aioipc``: :func:`aioipc.open_datagram` (``add_reader`` + ``recvfrom_into``), what
  aioipc ships;
* ``endpoint``: ``loop.create_datagram_endpoint`` with a protocol that puts each
  datagram in an ``asyncio.Queue``, the alternative design.

Prints round trips per second (best of ``--repeat`` runs, alternating implementations
so neither gets the warmer machine) and, with ``--json PATH``, saves them.  This is
the measurement behind the choice recorded in ``aioipc/_datagram.py`` and
``docs/datagrams.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aioipc

PAYLOAD = b"x" * 64

PEER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    data, addr = s.recvfrom(65536)
    if data == b"stop":
        break
    s.sendto(data, addr)
"""


async def run_aioipc(port: int, rounds: int) -> float:
    async with aioipc.open_datagram(remote=f"udp://127.0.0.1:{port}") as sock:
        start = time.perf_counter()
        for _ in range(rounds):
            await sock.send(PAYLOAD)
            await sock.receive()
        return time.perf_counter() - start


class _QueueProtocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait((data, addr))


async def run_endpoint(port: int, rounds: int) -> float:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        _QueueProtocol, remote_addr=("127.0.0.1", port)
    )
    try:
        start = time.perf_counter()
        for _ in range(rounds):
            transport.sendto(PAYLOAD)
            await protocol.queue.get()
        return time.perf_counter() - start
    finally:
        transport.close()


IMPLEMENTATIONS: dict[str, Callable[[int, int], Coroutine[Any, Any, float]]] = {
    "aioipc": run_aioipc,
    "endpoint": run_endpoint,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    peer = subprocess.Popen([sys.executable, "-c", PEER], stdout=subprocess.PIPE, text=True)
    try:
        assert peer.stdout is not None
        port = int(peer.stdout.readline())
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            for loop_name in ("asyncio", "uvloop"):
                for name, implementation in IMPLEMENTATIONS.items():
                    seconds = aioipc.run(implementation(port, args.rounds), loop=loop_name)
                    key = f"{loop_name}/{name}"
                    best[key] = max(best.get(key, 0.0), args.rounds / seconds)
    finally:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stopper:
            stopper.sendto(b"stop", ("127.0.0.1", port))
        peer.wait()
    print(f"64-byte UDP ping-pong, {args.rounds} round trips, best of {args.repeat}")
    print(f"{'loop/implementation':<22} {'round trips/s':>14} {'us/round trip':>14}")
    for key, rate in best.items():
        print(f"{key:<22} {rate:>14,.0f} {1e6 / rate:>14.1f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"rounds": args.rounds, "best": best}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
