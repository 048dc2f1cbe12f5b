"""perlipc's message queue round trip: send a typed message, receive it, print "okay".

perlipc ("SysV IPC")::

    use IPC::SysV qw(IPC_PRIVATE IPC_RMID IPC_CREAT S_IRUSR S_IWUSR);

    my $id = msgget(IPC_PRIVATE, IPC_CREAT | S_IRUSR | S_IWUSR);

    my $sent = "message";
    my $type_sent = 1234;
    my $rcvd;
    my $type_rcvd;

    if (defined $id) {
        if (msgsnd($id, pack("l! a*", $type_sent, $sent), 0)) {
            if (msgrcv($id, $rcvd, 60, 0, 0)) {
                ($type_rcvd, $rcvd) = unpack("l! a*", $rcvd);
                if ($rcvd eq $sent) {
                    print "okay\n";
                } else {
                    print "not okay\n";
                }
            } else {
                die "# msgrcv failed\n";
            }
        } else {
            die "# msgsnd failed\n";
        }
        msgctl($id, IPC_RMID, 0) || die "# msgctl failed: $!\n";
    } else {
        die "# msgget failed\n";
    }

No ``pack``/``unpack``: ``send`` takes the type as an argument and ``receive`` returns
``(message, type)``.  Type 0 asks for the first message of any type, as Perl's fourth
``msgrcv`` argument does.  Every failure the Perl program ``die``s on is an exception
here, and leaving the ``async with`` block removes the queue it created (``msgctl(...,
IPC_RMID)``), whether the round trip worked or not::

    python examples/sysv/msg.py [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse

import aioipc
from aioipc.sysv import MessageQueue


async def main() -> None:
    async with MessageQueue(None, mode=0o600) as queue:  # msgget(IPC_PRIVATE, ...)
        sent = b"message"
        type_sent = 1234
        await queue.send(sent, type=type_sent)
        rcvd, type_rcvd = await queue.receive(type=0)
        if rcvd == sent and type_rcvd == type_sent:
            print("okay", flush=True)
        else:
            print("not okay", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args()
    aioipc.run(main(), loop=args.loop)
