"""Saving results as JSON and rendering them as a text or Markdown table.

Tables are always rendered from the saved document (never from live objects), so the
table printed after a run, ``python -m benchmarks --markdown`` and the docs page show
the same figures.

Ratios are *cost* ratios, so that 1.00 is the reference and larger is worse in every
column: for a latency, the implementation's median divided by the reference's; for a
throughput, the reference's median divided by the implementation's (time per byte).
"vs raw" is against the raw blocking limit, "vs asyncio" against plain asyncio streams on
the same loop.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

SCHEMA = 1
RESULTS_DIR = Path(__file__).resolve().parent / "results"
LATEST = "latest.json"


def summarize(samples: Sequence[float]) -> dict[str, float]:
    """Median, min and max of one series."""
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
    }


def save(document: dict[str, Any], directory: Path, started: datetime) -> Path:
    """Write the document to a timestamped file and to ``latest.json``; return the former.

    Each file is written to a ``.tmp`` name and renamed, so a reader never sees half a
    file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if document["settings"]["quick"] else ""
    path = directory / f"{started.strftime('%Y%m%dT%H%M%SZ')}{suffix}.json"
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    for target in (path, directory / LATEST):
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, target)
    return path


def load(path: Path) -> dict[str, Any]:
    """Read a saved results document.

    Raises:
        ValueError: the file is not a results document of a schema this code reads.
    """
    document: dict[str, Any] = json.loads(path.read_text())
    if document.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a schema-{SCHEMA} benchmark results file")
    return document


def _format_value(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def cost_ratio(value: float, reference: float | None, higher_is_better: bool) -> float | None:
    """The cost of ``value`` relative to ``reference`` (1.0: the same; above: worse)."""
    if reference is None or value <= 0 or reference <= 0:
        return None
    return reference / value if higher_is_better else value / reference


def _ratio(value: float, reference: float | None, higher_is_better: bool) -> str:
    cost = cost_ratio(value, reference, higher_is_better)
    return "—" if cost is None else f"{cost:.2f}"


def reference_medians(
    document: dict[str, Any], results: Sequence[dict[str, Any]]
) -> tuple[float | None, dict[str | None, float]]:
    """The raw limit's median, and plain asyncio's median per loop, among ``results``."""
    roles = {name: impl["role"] for name, impl in document["implementations"].items()}
    limit = next((r["median"] for r in results if roles[r["implementation"]] == "limit"), None)
    baseline = {
        r["loop"]: r["median"] for r in results if roles[r["implementation"]] == "baseline"
    }
    return limit, baseline


def measured(
    document: dict[str, Any], pinning: str
) -> Iterable[tuple[dict[str, Any], list[dict[str, Any]], float | None, dict[str | None, float]]]:
    """Yield (scenario, results, raw limit, asyncio per loop) for each scenario measured
    with ``pinning``."""
    for name, scenario in document["scenarios"].items():
        results = [
            r for r in document["results"] if r["scenario"] == name and r["pinning"] == pinning
        ]
        if results:
            yield (scenario, results, *reference_medians(document, results))


def _tables(
    document: dict[str, Any],
) -> Iterable[tuple[str, str, list[str], list[list[str]]]]:
    """Yield (title, details, column names, rows) per pinning mode and scenario."""
    rounds = document["settings"]["rounds"]
    for pinning, placement in document["settings"]["placements"].items():
        for scenario, results, limit, baseline in measured(document, pinning):
            higher = scenario["higher_is_better"]
            workload = scenario["workload"]
            details = (
                f"{scenario['unit']}, {'higher' if higher else 'lower'} is better. "
                f"{placement['description'][:1].upper()}{placement['description'][1:]}. "
                f"Median of {rounds} rounds of {workload['iterations']:,} timed operations "
                f"after {workload['warmup']:,} warm-up."
            )
            columns = ["implementation", "loop", "median", "min", "max", "vs raw", "vs asyncio"]
            rows = [
                [
                    r["implementation"],
                    r["loop"] or "—",
                    _format_value(r["median"]),
                    _format_value(r["min"]),
                    _format_value(r["max"]),
                    _ratio(r["median"], limit, higher),
                    _ratio(r["median"], baseline.get(r["loop"]), higher),
                ]
                for r in results
            ]
            yield scenario["title"], details, columns, rows


def _footer(document: dict[str, Any]) -> list[str]:
    machine = document["machine"]
    versions = machine["versions"]
    lines = [
        f"{machine['cpu_model']}, {machine['nproc']} CPUs"
        f"{' (virtual machine)' if machine['virtualized'] else ''}, "
        f"Linux {machine['kernel']}, Python {machine['python']}, "
        f"uvloop {versions['uvloop']}, anyio {versions['anyio']}, "
        f"aioipc {versions['aioipc']} ({(machine['git_commit'] or 'unknown')[:10]}"
        f"{', uncommitted changes' if machine['git_dirty'] else ''}); "
        f"`{document['command']}` on {document['started_at']}"
        f"{' (quick run)' if document['settings']['quick'] else ''}.",
    ]
    if document["settings"].get("heap") == "cold":
        lines.append("The measured side ran with a fresh process's heap (--cold-heap).")
    worker_env = document["settings"].get("worker_env")
    if worker_env:
        settings = " ".join(f"{name}={value}" for name, value in worker_env.items())
        lines.append(f"The measured side ran with {settings} in its environment.")
    share = machine.get("cpu_share_during_run")
    if share:
        lines.append(
            f"During the run, other processes used {share['other_processes']:.0%} of the "
            f"machine's CPU time and the hypervisor stole {share['steal']:.0%}."
        )
    lines += [f"Not measured: {name}: {why}." for name, why in document["skipped"].items()]
    lines += [f"Warning: {warning}." for warning in document["warnings"]]
    return lines


#: The implementations the summary gives a column each, in order.
SUMMARY_IMPLEMENTATIONS = ("asyncio", "aioipc", "anyio")


def _summaries(
    document: dict[str, Any],
) -> Iterable[tuple[str, list[str], list[list[str]]]]:
    """Yield (title, column names, rows) per pinning mode: one row per scenario.

    Each implementation's cell is "default loop / uvloop"; the ratio columns are aioipc's
    cost against plain asyncio on the same loop and against the raw limit.
    """
    for pinning, placement in document["settings"]["placements"].items():
        rows: list[list[str]] = []
        for scenario, results, limit, baseline in measured(document, pinning):
            higher = scenario["higher_is_better"]
            median = {(r["implementation"], r["loop"]): r["median"] for r in results}
            cells = [
                " / ".join(
                    _format_value(median[impl, loop]) if (impl, loop) in median else "—"
                    for loop in ("asyncio", "uvloop")
                )
                for impl in SUMMARY_IMPLEMENTATIONS
            ]
            versus_asyncio = " / ".join(
                _ratio(median[("aioipc", loop)], baseline.get(loop), higher)
                if ("aioipc", loop) in median
                else "—"
                for loop in ("asyncio", "uvloop")
            )
            versus_raw = " / ".join(
                _ratio(median[("aioipc", loop)], limit, higher)
                if ("aioipc", loop) in median
                else "—"
                for loop in ("asyncio", "uvloop")
            )
            rows.append(
                [
                    scenario["title"],
                    f"{scenario['unit']} {'↑' if higher else '↓'}",
                    _format_value(limit) if limit is not None else "—",
                    *cells,
                    versus_asyncio,
                    versus_raw,
                ]
            )
        if rows:
            columns = [
                "scenario",
                "unit",
                "raw limit",
                *(f"{impl} (asyncio / uvloop)" for impl in SUMMARY_IMPLEMENTATIONS),
                "aioipc cost vs asyncio",
                "aioipc cost vs raw",
            ]
            title = f"Summary, {placement['description']}"
            yield title, columns, rows


def _text_table(columns: list[str], rows: list[list[str]], left: int) -> list[str]:
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    return [
        "  "
        + "  ".join(
            cell.ljust(width) if i < left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in [columns, *rows]
    ]


def _markdown_table(columns: list[str], rows: list[list[str]], left: int) -> list[str]:
    return [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join(["---"] * left + ["---:"] * (len(columns) - left)) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def render_text(document: dict[str, Any]) -> str:
    """The results as plain-text tables for a terminal: every scenario, then the summary."""
    out: list[str] = []
    for title, details, columns, rows in _tables(document):
        out.append(f"{title}: {details}")
        out += _text_table(columns, rows, 2)
        out.append("")
    for title, columns, rows in _summaries(document):
        out.append(f"{title} (cost: 1.00 is the reference, above it is slower):")
        out += _text_table(columns, rows, 2)
        out.append("")
    out += _footer(document)
    return "\n".join(out) + "\n"


def render_markdown(document: dict[str, Any]) -> str:
    """The results as Markdown tables, for docs/benchmarks.md and the README."""
    out: list[str] = []
    for title, details, columns, rows in _tables(document):
        out.append(f"**{title}** — {details}")
        out.append("")
        out += _markdown_table(columns, rows, 2)
        out.append("")
    out += [f"{line}  " for line in _footer(document)]
    return "\n".join(out).rstrip() + "\n"


def render_summary_markdown(document: dict[str, Any]) -> str:
    """The summary tables as Markdown, for the README."""
    out: list[str] = []
    for title, columns, rows in _summaries(document):
        out.append(
            f"**{title}** — medians; ↓ lower is better, ↑ higher is better; a cost of 1.00 "
            "is the reference, above it is slower."
        )
        out.append("")
        out += _markdown_table(columns, rows, 2)
        out.append("")
    out += [f"{line}  " for line in _footer(document)]
    return "\n".join(out).rstrip() + "\n"


MARK_BEGIN = "<!-- benchmark results: begin (python -m benchmarks --markdown --into FILE) -->"
MARK_END = "<!-- benchmark results: end -->"


def write_into(path: Path, markdown: str) -> None:
    """Replace the block between the result markers in a Markdown file.

    Raises:
        ValueError: the file lacks either marker, or has them in the wrong order.
    """
    text = path.read_text()
    begin = text.find(MARK_BEGIN)
    end = text.find(MARK_END)
    if begin < 0 or end < begin:
        raise ValueError(
            f"{path} needs the lines {MARK_BEGIN!r} and {MARK_END!r}, in that order, "
            "around the place for the results"
        )
    head = text[: begin + len(MARK_BEGIN)]
    path.write_text(f"{head}\n\n{markdown}\n{text[end:]}")
