"""A safe pipe open for reading, with the child running as another user: perlipc's ``"-|"``.

perlipc ("Safe Pipe Opens")::

    $pid = open(KID_TO_READ, "-|");
    if ($pid) {   # parent
        while (<KID_TO_READ>) {
            # do something interesting
        }
        close(KID_TO_READ) || warn "kid exited $?";
    } else {      # child
        ($EUID, $EGID) = ($UID, $GID); # suid only
        open (FILE, "< $file") || die "can't open $file: $!";
        print while <FILE>;   # the child's STDOUT is the parent's KID_TO_READ
        exit;
    }

The parent keeps its privileges; the child drops them (to ``nobody`` when run as root)
*before* it opens the file, so it reads only what ``nobody`` may read.  The program makes
two files in a temporary directory: ``public.txt`` (mode 0644), which the child reads
and the parent prints line by line from ``kid.stdout``, and ``secret.txt`` (mode 0600,
root's alone), which the child cannot open: it dies with a message and status 1, and the
parent warns "kid exited" with the status -- Perl's ``$?``.  The child's stderr is a pipe
too, so the parent reports the child's complaint itself.  Not run as root, there is no
privilege drop (the program says so), and the child reads both files::

    python examples/forks/safe_pipe_read.py [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import aioipc

PUBLIC_DATA = "first line of the public file\nsecond line\nthird and last\n"
SECRET_DATA = "the secret\n"


def child(path: str) -> None:
    # The first line names the uid the kid runs as: the drop took before any of this.
    print(f"uid {os.getuid()}", flush=True)
    try:
        with open(path) as file:  # as the dropped user
            for line in file:
                sys.stdout.write(line)  # the child's stdout is the parent's kid.stdout
    except OSError as exc:
        if exc.filename != path:
            raise  # not the file's fault (a closed stdout, say): a traceback, status 1
        sys.exit(f"can't open {Path(path).name}: {exc.strerror}")  # die: stderr, status 1


async def read_as(path: Path, user: str | None) -> None:
    async with aioipc.open_fork(
        child, str(path), stdout=aioipc.PIPE, stderr=aioipc.PIPE, user=user
    ) as kid:
        assert kid.stdout is not None
        assert kid.stderr is not None
        uid = (await kid.stdout.readline()).decode()
        print(f"{path.name}: the kid runs as {uid}")
        async for line in kid.stdout.lines():  # while (<KID_TO_READ>)
            print(f"  read: {line.decode()}")
        # The complaint is short and comes after stdout's EOF: no deadlock reading it now.
        complaint = [line.decode() async for line in kid.stderr.lines()]
    # Leaving the block closed the pipes and reaped the kid: close(KID_TO_READ).
    for said in complaint:
        print(f"  the kid said: {said}")
    if kid.returncode == 0:
        print(f"{path.name}: the kid {kid.status}")
    else:
        print(f"{path.name}: warning: the kid {kid.status}")
    sys.stdout.flush()


async def main() -> int:
    if os.geteuid() == 0:
        user: str | None = "nobody"
        print("running as root: the kid drops to nobody")
    else:
        user = None
        print(f"not running as root: no privilege drop, the kid keeps uid {os.getuid()}")
    with tempfile.TemporaryDirectory(prefix="safe-pipe-read-") as name:
        directory = Path(name)
        directory.chmod(0o755)  # nobody may look in
        public = directory / "public.txt"
        public.write_text(PUBLIC_DATA)
        public.chmod(0o644)
        secret = directory / "secret.txt"
        secret.write_text(SECRET_DATA)
        secret.chmod(0o600)
        await read_as(public, user)
        await read_as(secret, user)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    options = parser.parse_args()
    raise SystemExit(aioipc.run(main(), loop=options.loop))
