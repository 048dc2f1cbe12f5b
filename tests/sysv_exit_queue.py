"""``python sysv_exit_queue.py KEY LOOP HOW FULL``: end while a poller holds a message.

One task receives type 3 from the message queue with KEY.  The program sends a type-3
message ``precious`` itself and holds its loop thread until a poller thread has taken
it for the receiver (the queue is empty again), so the receiver cannot have been told
yet.  With ``FULL=1`` it then fills the queue with 1024-byte type-4 messages until the
queue is full and prints ``FILLERS n``.  Then:

* ``HOW=aioipc.run``: main returns through ``aioipc.run``, the receiver still pending;
* ``HOW=cancel``: main cancels the receiver (without awaiting it) and returns;
* ``HOW=closed``: all that happens while the loop is not running, and the loop is
  closed without running again: the receiver is never cancelled, and the give-back is
  left to interpreter exit.

It prints ``RECEIVER received``, ``RECEIVER cancelled`` or ``RECEIVER pending`` after
the run.  Unless the receiver received it, ``precious`` must be back in the queue
before the process ends -- with a full queue the process waits at exit until the
parent makes room.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

import sysv_ipc

from aioipc import new_event_loop, run
from aioipc.sysv import MessageQueue

receivers: list[asyncio.Future[tuple[bytes, int]]] = []


async def start(key: int) -> None:
    mq = MessageQueue(key, create=False)
    receivers.append(asyncio.ensure_future(mq.receive(type=3)))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not receivers[0].done()


def send_and_hold(key: int, full: bool) -> None:
    raw = sysv_ipc.MessageQueue(key)
    raw.send(b"precious", True, 3)
    deadline = time.monotonic() + 20
    while raw.current_messages:  # the poller took it; this thread was not told
        assert time.monotonic() < deadline, "no poller took the message"
        time.sleep(0.0005)
    if full:
        fillers = 0
        with contextlib.suppress(sysv_ipc.BusyError):
            while True:
                raw.send(b"f" * 1024, False, 4)
                fillers += 1
        print(f"FILLERS {fillers}", flush=True)


async def main(key: int, full: bool, cancel: bool) -> None:
    await start(key)
    send_and_hold(key, full)
    if cancel:
        receivers[0].cancel()


def outcome() -> str:
    receiver = receivers[0]
    if not receiver.done():
        return "pending"
    return "cancelled" if receiver.cancelled() else "received"


if __name__ == "__main__":
    key, loop, how, full = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "1"
    if how in ("aioipc.run", "cancel"):
        run(main(key, full, how == "cancel"), loop=loop)  # type: ignore[arg-type]
    elif how == "closed":
        event_loop = new_event_loop(loop)  # type: ignore[arg-type]
        event_loop.run_until_complete(start(key))
        send_and_hold(key, full)
        event_loop.close()
    else:
        raise SystemExit(f"unknown HOW {how!r}")
    print("RECEIVER", outcome(), flush=True)
