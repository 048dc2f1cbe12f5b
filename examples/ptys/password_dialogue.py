"""An Expect-style dialogue with a program that insists on a terminal.

perlipc ("Bidirectional Communication with Another Process") points at Expect.pm for
programs that read a password from the terminal rather than stdin.  Here that
program is this file run with ``--child``: it reads a login with ``input()`` and a
password with :func:`getpass.getpass`, which opens ``/dev/tty`` and turns echo off --
piping the password into its stdin would not work.  The parent runs it on a pty and
answers the prompts with :meth:`aioipc.Terminal.expect`::

    python examples/ptys/password_dialogue.py [--loop asyncio|uvloop] [--password PW]

The right password is ``s3cret``; the program prints the dialogue and exits 0 when
the child let us in, 1 when it did not.
"""

from __future__ import annotations

import argparse
import getpass
import sys

import aioipc


def child() -> int:
    user = input("login: ")
    if getpass.getpass("Password: ") == "s3cret":
        print(f"welcome {user}")
        return 0
    print("access denied")
    return 1


async def main(password: str) -> int:
    async with aioipc.open_pty([sys.executable, __file__, "--child"]) as term:
        await term.expect(b"login: ")
        await term.send_line("alice")
        await term.expect_exact(b"Password: ")
        print("answered the login; the child asks for a password", flush=True)
        await term.send_line(password)
        result = await term.expect([rb"welcome (\w+)", b"access denied"], timeout=10)
        if result.index == 0:
            assert result.match is not None
            print(f"logged in as {result.match.group(1).decode()}", flush=True)
        else:
            print("the child refused the password", flush=True)
        status = await term.wait()
    print(f"the child {status}", flush=True)
    return 0 if status.success else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--password", default="s3cret")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        raise SystemExit(child())
    raise SystemExit(aioipc.run(main(options.password), loop=options.loop))
