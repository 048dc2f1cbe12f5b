"""Started by ``spawn_detached`` in ``tests/test_fork.py``: writes what it sees as JSON.

::

    python tests/fork_detached_program.py OUTPUT_FILE
"""

from __future__ import annotations

import json
import os
import signal
import sys


def open_fds() -> dict[str, str]:
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[name] = os.readlink(f"/proc/self/fd/{name}")
        except FileNotFoundError:
            continue  # the fd listdir itself used
    return fds


def main() -> None:
    facts = {
        "pid": os.getpid(),
        "sid": os.getsid(0),
        "pgid": os.getpgid(0),
        "cwd": os.getcwd(),
        "fds": open_fds(),
        "blocked": sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    }
    temporary = sys.argv[1] + ".tmp"
    with open(temporary, "w") as out:
        json.dump(facts, out)
    os.rename(temporary, sys.argv[1])


if __name__ == "__main__":
    main()
