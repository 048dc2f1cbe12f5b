"""perlipc's shared memory round trip: write a message into a segment, read it back.

perlipc ("SysV IPC")::

    use IPC::SysV qw(IPC_PRIVATE IPC_RMID S_IRUSR S_IWUSR);

    $size = 2000;
    $id = shmget(IPC_PRIVATE, $size, S_IRUSR|S_IWUSR) // die "$!";
    print "shm key $id\n";

    $message = "Message #1";
    shmwrite($id, $message, 0, 60) || die "$!";
    print "wrote: '$message'\n";
    shmread($id, $buff, 0, 60) || die "$!";
    print "read : '$buff'\n";

    # the buffer of shmread is zero-character end-padded.
    substr($buff, index($buff, "\0")) = '';
    print "un" unless $buff eq $message;
    print "swell\n";

    print "deleting shm $id\n";
    shmctl($id, IPC_RMID, 0) || die "$!";

The output is the Perl program's, byte for byte (the id aside), including the 50 NUL
bytes of the padded read.  ``shmwrite`` pads the message to 60 bytes with NULs, so the
port writes it padded; ``shmread`` returns the 60 bytes as they are.  The segment is
private (``key=None``, ``IPC_PRIVATE``), readable and writable by its owner only, and
``with`` removes it even if something fails before the explicit ``remove()``::

    python examples/sysv/shm.py [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import sys

import aioipc
from aioipc.sysv import SharedMemory


async def main() -> None:
    out = sys.stdout.buffer  # the read line carries NUL bytes, as Perl prints them
    size = 2000
    with SharedMemory(None, size, mode=0o600) as shm:
        out.write(f"shm key {shm.id}\n".encode())

        message = b"Message #1"
        shm.write(message.ljust(60, b"\0"), 0)  # shmwrite($id, $message, 0, 60)
        out.write(b"wrote: '" + message + b"'\n")
        buff = shm.read(60, 0)  # shmread($id, $buff, 0, 60)
        out.write(b"read : '" + buff + b"'\n")

        # the buffer of shmread is zero-character end-padded.
        buff = buff.partition(b"\0")[0]
        out.write(b"swell\n" if buff == message else b"unswell\n")

        out.write(f"deleting shm {shm.id}\n".encode())
        shm.remove()  # shmctl($id, IPC_RMID, 0)
    out.flush()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args()
    aioipc.run(main(), loop=args.loop)
