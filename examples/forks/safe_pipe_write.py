"""A safe pipe open for writing, with the child running as another user: perlipc's ``"|-"``.

perlipc ("Safe Pipe Opens")::

    $pid = open(KID_TO_WRITE, "|-");
    if ($pid) {  # parent
        print KID_TO_WRITE @some_data;
        close(KID_TO_WRITE) || warn "kid exited $?";
    } else {     # child
        ($EUID, $EGID) = ($UID, $GID); # suid progs only
        open (FILE, "> /safe/file")
            || die "can't open /safe/file: $!";
        while (<STDIN>) {
            print FILE; # child's STDIN is parent's KID_TO_WRITE
        }
        exit;  # don't forget this
    }

The parent keeps its privileges; the child drops them *before* it opens the file, so the
file is created -- or refused -- with the rights of ``--user`` (``nobody`` by default
when run as root), never with ours.  ``open_fork(..., user=...)`` does the drop in the
safe order (supplementary groups, gid, uid) and checks it took; if it cannot, the
``async with`` raises ``PermissionError`` here, in the parent.  The child's exit
status is Perl's ``$?``: a child that cannot open the file dies with a traceback on
stderr and status 1, and the parent warns "kid exited".  No ``exit`` to forget:
``open_fork`` always ends the child when its function returns::

    python examples/forks/safe_pipe_write.py [--loop asyncio|uvloop] [--user nobody] FILE
"""

from __future__ import annotations

import argparse
import os
import sys

import aioipc

SOME_DATA = ["first line of some data\n", "second line\n", "third and last\n"]


def child(path: str) -> None:
    with open(path, "w") as file:  # as the dropped user: may raise PermissionError
        for line in sys.stdin:  # the child's stdin is the parent's kid.stdin
            file.write(line)


async def main(path: str, user: str | None) -> int:
    async with aioipc.open_fork(child, path, stdin=aioipc.PIPE, user=user) as kid:
        assert kid.stdin is not None
        for line in SOME_DATA:
            try:
                await kid.stdin.send(line.encode())
            except aioipc.BrokenPipe:
                break  # the kid is gone (it could not open the file): its status says why
    if kid.returncode != 0:
        print(f"kid failed: it {kid.status}", flush=True)
        return 1
    owner = os.stat(path).st_uid
    print(f"kid (pid {kid.pid}) wrote {len(SOME_DATA)} lines to {path} as uid {owner}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument(
        "--user",
        default="nobody" if os.geteuid() == 0 else None,
        help="the user the child writes as (default: nobody when run as root)",
    )
    parser.add_argument("file", help="the file the child creates")
    options = parser.parse_args()
    raise SystemExit(aioipc.run(main(options.file, options.user), loop=options.loop))
