"""``python -m benchmarks``: run the suite, print the tables, save the results."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aioipc

from ._impl_aioipc import AIOIPC
from ._impl_anyio import ANYIO, ANYIO_UNIX
from ._impl_asyncio import ASYNCIO_STREAMS
from ._impl_raw import RAW
from ._machine import machine_info
from ._registry import LOOPS, Implementation, LoopName, Workload
from ._report import (
    LATEST,
    RESULTS_DIR,
    SCHEMA,
    load,
    render_markdown,
    render_text,
    save,
    summarize,
    write_into,
)
from ._runner import PIN_MODES, BenchmarkError, PinMode, Placement, Series, run_scenario
from ._scenarios import SCENARIOS

IMPLEMENTATIONS: dict[str, Implementation] = {
    i.name: i for i in (RAW, ASYNCIO_STREAMS, AIOIPC, ANYIO, ANYIO_UNIX)
}

DEFAULT_ROUNDS = 10
QUICK_ROUNDS = 3
#: ``--quick`` runs this fraction of each scenario's warm-up and timed operations.
QUICK_SCALE = 0.1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(
            "Measure aioipc.Stream against plain asyncio streams, anyio and raw blocking "
            "sockets, on asyncio's default loop and on uvloop, each talking to the same "
            "raw peer process over a socketpair. Prints median/min/max and cost ratios, "
            "and saves the results as JSON."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"short run: {QUICK_ROUNDS} rounds of {QUICK_SCALE:.0%} of each workload",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help=f"rounds per scenario (default {DEFAULT_ROUNDS}, {QUICK_ROUNDS} with --quick)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        help="multiply every workload's warm-up and timed operations by this factor "
        f"(default 1, {QUICK_SCALE} with --quick)",
    )
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="only these (repeatable)"
    )
    parser.add_argument(
        "--impl",
        action="append",
        choices=sorted(IMPLEMENTATIONS),
        help="only these implementations (repeatable); raw-blocking and asyncio-streams are "
        "the references for the ratios",
    )
    parser.add_argument("--loop", action="append", choices=LOOPS, help="only these loops")
    parser.add_argument(
        "--pin",
        action="append",
        nargs="?",
        const="same",
        choices=PIN_MODES,
        metavar="MODE",
        help="pinning: off (default), same (both processes on one CPU; the default when "
        "--pin has no MODE), split (one CPU each). Repeat to measure several, e.g. "
        "--pin off --pin same",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="where to save results (default: benchmarks/results)",
    )
    parser.add_argument("--no-save", action="store_true", help="print the tables, save nothing")
    parser.add_argument(
        "--list", action="store_true", help="list scenarios and implementations, and exit"
    )
    parser.add_argument(
        "--markdown",
        nargs="?",
        const=True,
        type=Path,
        metavar="RESULTS.json",
        help="print a saved result (default: latest.json) as Markdown, and exit",
    )
    parser.add_argument(
        "--into",
        type=Path,
        metavar="FILE.md",
        help="with --markdown: replace the marked results block in FILE.md instead",
    )
    return parser


def _progress(message: str, final: bool) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\033[K{message}" + ("\n" if final else ""))
    elif final:
        sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _list() -> str:
    lines = ["Scenarios:"]
    for scenario in SCENARIOS.values():
        w = scenario.workload
        lines.append(
            f"  {scenario.name}: {scenario.title} ({scenario.unit}); {w.warmup:,} warm-up + "
            f"{w.iterations:,} timed operations of {w.size:,} bytes"
        )
        lines.append(f"      {scenario.measures}")
    lines.append("Implementations:")
    for impl in IMPLEMENTATIONS.values():
        loops = ", ".join(loop or "no loop" for loop in impl.loops)
        reason = impl.unavailable()
        lines.append(
            f"  {impl.name} [{loops}]: {impl.summary}"
            + (f" — UNAVAILABLE: {reason}" if reason else "")
        )
    return "\n".join(lines)


def _markdown(args: argparse.Namespace) -> int:
    source = args.results_dir / LATEST if args.markdown is True else args.markdown
    try:
        markdown = render_markdown(load(source))
        if args.into:
            write_into(args.into, markdown)
    except (OSError, ValueError) as exc:
        print(f"python -m benchmarks: {exc}", file=sys.stderr)
        return 1
    if not args.into:
        sys.stdout.write(markdown)
    return 0


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    started = datetime.now(UTC)
    start = time.monotonic()
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS)
    scale = args.scale or (QUICK_SCALE if args.quick else 1.0)
    if rounds < 1 or scale <= 0:
        raise BenchmarkError("--rounds must be at least 1 and --scale above 0")
    pin_modes: list[PinMode] = list(dict.fromkeys(args.pin or ["off"]))
    loops: list[LoopName] = list(dict.fromkeys(args.loop or LOOPS))
    scenarios = [SCENARIOS[name] for name in dict.fromkeys(args.scenario or SCENARIOS)]
    chosen = [IMPLEMENTATIONS[name] for name in dict.fromkeys(args.impl or IMPLEMENTATIONS)]

    cpus = sorted(os.sched_getaffinity(0))
    placements = {mode: Placement.for_mode(mode, cpus) for mode in pin_modes}
    machine = machine_info()

    skipped: dict[str, str] = {}
    runnable: list[Implementation] = []
    for impl in chosen:
        reason = impl.unavailable()
        if reason:
            skipped[impl.name] = reason
            print(f"skipping {impl.name}: {reason}", file=sys.stderr)
        else:
            runnable.append(impl)

    # uvloop opens a process-wide signal pipe with its first loop and keeps it; open it
    # before counting fds, so the first uvloop measurement is not blamed for it.
    for loop in loops:
        aioipc.new_event_loop(loop).close()

    warnings: list[str] = []
    all_series: list[Series] = []
    workloads: dict[str, Workload] = {}
    for placement in placements.values():
        for scenario in scenarios:
            workload = scenario.workload.scaled(scale)
            workloads[scenario.name] = workload
            entries = [
                (impl, loop)
                for impl in runnable
                if scenario.name in impl.clients
                for loop in impl.loops
                if loop is None or loop in loops
            ]
            for impl in runnable:
                if scenario.name not in impl.clients:
                    print(f"{impl.name} has no {scenario.name} client", file=sys.stderr)
            if not entries:
                continue
            all_series += run_scenario(
                scenario, entries, workload, rounds, placement, warnings, _progress
            )
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)

    document: dict[str, Any] = {
        "schema": SCHEMA,
        "started_at": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "duration_s": round(time.monotonic() - start, 1),
        "command": shlex.join(["python", "-m", "benchmarks", *argv]),
        "settings": {
            "quick": args.quick,
            "rounds": rounds,
            "scale": scale,
            "loops": loops,
            "placements": {mode: p.describe() for mode, p in placements.items()},
        },
        "machine": machine,
        "scenarios": {
            s.name: {
                "title": s.title,
                "measures": s.measures,
                "unit": s.unit,
                "higher_is_better": s.higher_is_better,
                "peer": s.peer_role,
                "workload": vars(workloads[s.name]),
            }
            for s in scenarios
            if s.name in workloads
        },
        "implementations": {
            i.name: {"summary": i.summary, "driver": i.driver, "role": i.role} for i in chosen
        },
        "skipped": skipped,
        "warnings": warnings,
        "results": [
            {
                "scenario": s.scenario,
                "implementation": s.implementation,
                "loop": s.loop,
                "pinning": s.pinning,
                **summarize(s.samples),
                "samples": s.samples,
            }
            for s in all_series
        ],
    }
    sys.stdout.write(render_text(document))
    if not args.no_save:
        path = save(document, args.results_dir, started)
        print(f"saved {path} and {args.results_dir / LATEST}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(argv)
    if args.into and not args.markdown:
        parser.error("--into goes with --markdown")
    if args.list:
        print(_list())
        return 0
    if args.markdown:
        return _markdown(args)
    try:
        return _run(args, argv)
    except BenchmarkError as exc:
        print(f"python -m benchmarks: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\npython -m benchmarks: interrupted; nothing saved", file=sys.stderr)
        return 130
