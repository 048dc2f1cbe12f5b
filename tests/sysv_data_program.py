"""A second process for tests/test_sysv_shm.py and tests/test_sysv_queue.py.

python sysv_data_program.py shm-read KEY N           print N bytes at offset 0 (hex)
python sysv_data_program.py shm-write-view KEY OFFSET HEX
                                                    write through .buffer, print DONE
python sysv_data_program.py shm-open-as-nobody KEY   open as uid/gid 65534, print the error
python sysv_data_program.py queue-receive KEY TYPE   receive one message, print TYPE HEX
python sysv_data_program.py queue-ponger KEY ROUNDS  answer each type-1 ping with a
                                                    type-2 pong carrying the same bytes
"""

from __future__ import annotations

import os
import sys

import aioipc
from aioipc._sysv_shm import SharedMemory


def shm_read(key: int, n: int) -> None:
    with SharedMemory(key, create=False) as segment:
        print(segment.read(n).hex(), flush=True)


def shm_write_view(key: int, offset: int, data: bytes) -> None:
    with SharedMemory(key, create=False) as segment:
        segment.buffer[offset : offset + len(data)] = data
    print("DONE", flush=True)


def shm_open_as_nobody(key: int) -> None:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
    try:
        SharedMemory(key, create=False)
    except PermissionError as exc:
        print(f"PermissionError: {exc}", flush=True)
    else:
        print("OPENED", flush=True)


async def queue_receive(key: int, msg_type: int) -> None:
    from aioipc._sysv_queue import MessageQueue

    queue = MessageQueue(key, create=False)
    message, got_type = await queue.receive(type=msg_type)
    print(got_type, message.hex(), flush=True)


async def queue_ponger(key: int, rounds: int) -> None:
    from aioipc._sysv_queue import MessageQueue

    queue = MessageQueue(key, create=False)
    print("READY", flush=True)
    for _ in range(rounds):
        message, _ = await queue.receive(type=1)
        await queue.send(message, type=2)


def main() -> None:
    command, key = sys.argv[1], int(sys.argv[2])
    rest = sys.argv[3:]
    if command == "shm-read":
        shm_read(key, int(rest[0]))
    elif command == "shm-write-view":
        shm_write_view(key, int(rest[0]), bytes.fromhex(rest[1]))
    elif command == "shm-open-as-nobody":
        shm_open_as_nobody(key)
    elif command == "queue-receive":
        aioipc.run(queue_receive(key, int(rest[0])))
    elif command == "queue-ponger":
        aioipc.run(queue_ponger(key, int(rest[0])))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
