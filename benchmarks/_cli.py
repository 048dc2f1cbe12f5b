"""``python -m benchmarks``: run the suite, print the tables, save the results."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aioipc

from ._catalog import IMPLEMENTATIONS, SCENARIOS
from ._chart import draw
from ._machine import CpuAccount, machine_info
from ._registry import LOOPS, Implementation, LoopName, Scenario
from ._report import (
    LATEST,
    RESULTS_DIR,
    SCHEMA,
    load,
    render_markdown,
    render_summary_markdown,
    render_text,
    save,
    summarize,
    write_into,
)
from ._runner import (
    PIN_MODES,
    BenchmarkError,
    PinMode,
    Placement,
    Series,
    WorkerOptions,
    run_scenario,
)

DEFAULT_ROUNDS = 3
QUICK_ROUNDS = 2
#: ``--tiny``: every scenario and implementation once with the smallest workloads, to
#: check that the suite works (``make test`` runs it); its figures mean nothing.
TINY_SCALE = 0.001
#: Warn when other processes used this share of the machine's CPU time during a run.
#: Quiet runs on the reference VM read 0-1 %; with a test suite running alongside they
#: read 20-50 %, and unpinned figures changed by up to 5x (processes forced onto one CPU).
BUSY_WARNING = 0.05
#: ``--quick`` runs this fraction of each scenario's warm-up and timed operations.
QUICK_SCALE = 0.125


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(
            "Measure aioipc against plain asyncio, anyio and the raw blocking-syscall "
            "limit, on asyncio's default loop and on uvloop: ping-pong and bulk transfers "
            "over every channel kind (each against the same raw peer process), signals, "
            "processes and servers. Prints median/min/max and cost ratios, and saves the "
            "results as JSON."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"short run: {QUICK_ROUNDS} rounds of {QUICK_SCALE * 100:.0f}%% of each workload",
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="one round of the smallest workloads, unpinned: checks that everything runs",
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
        "--group",
        action="append",
        choices=sorted({s.group for s in SCENARIOS.values()}),
        help="only the scenarios of these families (repeatable)",
    )
    parser.add_argument(
        "--impl",
        action="append",
        choices=sorted(IMPLEMENTATIONS),
        help="only these implementations (repeatable); raw-blocking and asyncio are "
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
        help="pinning: off, same (both processes on one CPU; the default when --pin has "
        "no MODE), split (one CPU each). Repeat to measure several, e.g. --pin off --pin "
        "same. Without --pin, latency scenarios are measured unpinned and pinned (unpinned "
        "only with --quick) and the rest unpinned",
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        metavar="NAME=VALUE",
        help="set an environment variable in every worker (the measured side), e.g. "
        "MALLOC_TRIM_THRESHOLD_=16777216; recorded in the results (repeatable)",
    )
    parser.add_argument(
        "--cold-heap",
        action="store_true",
        help="leave glibc's malloc in the measured side as a fresh process has it "
        "(by default one large block is freed first; see docs/benchmarks.md)",
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
        "--summary",
        action="store_true",
        help="with --markdown: the one-row-per-scenario summary (the README's table)",
    )
    parser.add_argument(
        "--chart",
        type=Path,
        metavar="FILE.png",
        help="draw a saved result (--markdown's, default latest.json) as a PNG chart, and exit",
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
    source = args.results_dir / LATEST if args.markdown in (True, None) else args.markdown
    try:
        if args.chart:
            draw(load(source), args.chart)
            return 0
        render = render_summary_markdown if args.summary else render_markdown
        markdown = render(load(source))
        if args.into:
            write_into(args.into, markdown)
    except (OSError, ValueError) as exc:
        print(f"python -m benchmarks: {exc}", file=sys.stderr)
        return 1
    if not args.into:
        sys.stdout.write(markdown)
    return 0


@dataclass
class _Plan:
    """What one invocation measures, resolved from the command line."""

    quick: bool
    rounds: int
    scale: float
    loops: list[LoopName]
    placements: dict[PinMode, Placement]
    pinned_by_hand: bool
    scenarios: list[Scenario]
    chosen: list[Implementation]
    skipped: dict[str, str]
    worker: WorkerOptions

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> _Plan:
        if args.tiny:
            args.quick = True
        default_rounds = 1 if args.tiny else QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS
        rounds = args.rounds or default_rounds
        scale = args.scale or (TINY_SCALE if args.tiny else QUICK_SCALE if args.quick else 1.0)
        if rounds < 1 or scale <= 0:
            raise BenchmarkError("--rounds must be at least 1 and --scale above 0")
        cpus = sorted(os.sched_getaffinity(0))
        chosen = [IMPLEMENTATIONS[name] for name in dict.fromkeys(args.impl or IMPLEMENTATIONS)]
        skipped = {i.name: reason for i in chosen if (reason := i.unavailable())}
        worker_env: dict[str, str] = {}
        for item in args.worker_env or []:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise BenchmarkError(f"--worker-env wants NAME=VALUE, not {item!r}")
            worker_env[name] = value
        return cls(
            quick=args.quick,
            rounds=rounds,
            scale=scale,
            loops=list(dict.fromkeys(args.loop or LOOPS)),
            placements={
                mode: Placement.for_mode(mode, cpus)
                for mode in dict.fromkeys(args.pin or (["off"] if args.quick else ["off", "same"]))
            },
            pinned_by_hand=bool(args.pin),
            scenarios=[
                SCENARIOS[name]
                for name in dict.fromkeys(args.scenario or SCENARIOS)
                if not args.group or SCENARIOS[name].group in args.group
            ],
            chosen=chosen,
            skipped=skipped,
            worker=WorkerOptions(env=worker_env, cold_heap=args.cold_heap),
        )

    def measures(self, scenario: Scenario, placement: Placement) -> bool:
        """Whether ``scenario`` is measured with ``placement`` in this run."""
        return self.pinned_by_hand or placement.mode in scenario.pinnings

    def entries(self, scenario: Scenario) -> list[tuple[Implementation, LoopName | None]]:
        """The (implementation, loop) pairs that measure ``scenario``, in registry order."""
        return [
            (impl, loop)
            for impl in self.chosen
            if impl.name not in self.skipped and scenario.name in impl.clients
            for loop in impl.loops
            if (loop is None or loop in self.loops)
            and (loop is None or (scenario.name, loop) not in impl.unsupported)
        ]


def _measure(plan: _Plan, warnings: list[str]) -> list[Series]:
    for name, reason in plan.skipped.items():
        print(f"skipping {name}: {reason}", file=sys.stderr)
    # uvloop opens a process-wide signal pipe with its first loop and keeps it; open it
    # before counting fds, so the first uvloop measurement is not blamed for it.
    for loop in plan.loops:
        aioipc.new_event_loop(loop).close()

    series: list[Series] = []
    for placement in plan.placements.values():
        for scenario in plan.scenarios:
            entries = plan.entries(scenario)
            if entries and plan.measures(scenario, placement):
                series += run_scenario(
                    scenario,
                    entries,
                    scenario.workload.scaled(plan.scale),
                    plan.rounds,
                    placement,
                    plan.worker,
                    warnings,
                    _progress,
                )
    return series


def _document(
    plan: _Plan,
    argv: Sequence[str],
    started: datetime,
    duration: float,
    machine: dict[str, Any],
    series: list[Series],
    warnings: list[str],
) -> dict[str, Any]:
    """The results document that is saved and that every table is rendered from."""
    return {
        "schema": SCHEMA,
        "started_at": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "duration_s": round(duration, 1),
        "command": shlex.join(["python", "-m", "benchmarks", *argv]),
        "settings": {
            "quick": plan.quick,
            "rounds": plan.rounds,
            "scale": plan.scale,
            "loops": plan.loops,
            "worker_env": dict(plan.worker.env),
            "heap": "cold" if plan.worker.cold_heap else "settled",
            "placements": {mode: p.describe() for mode, p in plan.placements.items()},
        },
        "machine": machine,
        "scenarios": {
            s.name: {
                "title": s.title,
                "measures": s.measures,
                "unit": s.unit,
                "higher_is_better": s.higher_is_better,
                "channel": s.channel,
                "group": s.group,
                "peer": s.peer_role,
                "workload": vars(s.workload.scaled(plan.scale)),
            }
            for s in plan.scenarios
        },
        "implementations": {
            i.name: {"summary": i.summary, "driver": i.driver, "role": i.role} for i in plan.chosen
        },
        "skipped": {
            **plan.skipped,
            **{
                f"{impl.name} on {loop}, {name}": why
                for impl in plan.chosen
                for (name, loop), why in impl.unsupported.items()
                if name in {s.name for s in plan.scenarios} and loop in plan.loops
            },
        },
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
            for s in series
        ],
    }


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    plan = _Plan.from_args(args)
    started = datetime.now(UTC)
    start = time.monotonic()
    machine = machine_info()
    account = CpuAccount()
    warnings: list[str] = []
    series = _measure(plan, warnings)
    share = machine["cpu_share_during_run"] = account.result()
    if share["other_processes"] >= BUSY_WARNING:
        warnings.append(
            f"other processes used {share['other_processes']:.0%} of the CPU time during the "
            "run; the figures are disturbed, re-run on a quiet machine"
        )
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    document = _document(plan, argv, started, time.monotonic() - start, machine, series, warnings)
    sys.stdout.write(render_text(document))
    if not args.no_save:
        path = save(document, args.results_dir, started)
        chart = draw(document, path.with_suffix(".png"))
        print(f"saved {path}, {chart} and {args.results_dir / LATEST}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(argv)
    if args.into and not args.markdown:
        parser.error("--into goes with --markdown")
    if args.summary and not args.markdown:
        parser.error("--summary goes with --markdown")
    if args.list:
        print(_list())
        return 0
    if args.markdown or args.chart:
        return _markdown(args)
    try:
        return _run(args, argv)
    except BenchmarkError as exc:
        print(f"python -m benchmarks: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\npython -m benchmarks: interrupted; nothing saved", file=sys.stderr)
        return 130
