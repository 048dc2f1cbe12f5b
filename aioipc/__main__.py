"""The ``aioipc`` command: ``aioipc signals``, ``aioipc bench``, ``aioipc --version``."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from . import __version__, signal_name


def _list_signals() -> int:
    """Print every signal number with its name, as ``kill -l`` does (perlipc's %signo)."""
    for signum in sorted(int(s) for s in signal.valid_signals()):
        print(f"{signum:>3} {signal_name(signum)}")
    return 0


def _bench(arguments: Sequence[str]) -> int:
    """Run the benchmark suite of a source checkout (it is not part of the wheel)."""
    try:
        suite = importlib.import_module("benchmarks._cli")
    except ModuleNotFoundError:
        print(
            "aioipc bench: the benchmark suite lives in aioipc's source tree; "
            "run it from a checkout (or use `make bench` there)",
            file=sys.stderr,
        )
        return 2
    result = suite.main(list(arguments))
    return int(result or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aioipc`` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="aioipc", description=__doc__)
    parser.add_argument("--version", action="version", version=f"aioipc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("signals", help="list signal numbers and names")
    bench = commands.add_parser("bench", help="run the benchmark suite (source checkout)")
    bench.add_argument("arguments", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    if options.command == "signals":
        return _list_signals()
    return _bench(options.arguments)


if __name__ == "__main__":
    sys.exit(main())
