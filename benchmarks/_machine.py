"""What the figures were measured on, saved with every result file."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import aioipc

ROOT = Path(__file__).resolve().parent.parent


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields from /proc/cpuinfo (empty where there is none)."""
    fields: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return fields
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def machine_info() -> dict[str, Any]:
    """Describe the machine, the interpreter, the libraries and the checkout."""
    cpu = _cpuinfo()
    status = _git(
        "status", "--porcelain", "--", "aioipc", "benchmarks", ":(exclude)benchmarks/results"
    )
    return {
        "cpu_model": cpu.get("model name") or platform.processor() or None,
        "nproc": os.cpu_count(),
        "usable_cpus": sorted(os.sched_getaffinity(0)),
        "virtualized": "hypervisor" in cpu.get("flags", "").split(),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_build": " ".join(platform.python_build()),
        "executable": sys.executable,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "versions": {
            "aioipc": aioipc.__version__,
            "uvloop": _version("uvloop"),
            "anyio": _version("anyio"),
        },
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
    }


class CpuAccount:
    """How busy the machine was during a run, apart from the run itself.

    Compares the kernel's CPU time counters (``/proc/stat``) with the time this process
    and its reaped children (the peers) used. What is left was used by other processes:
    a test suite running alongside a benchmark shows up here. ``steal`` is time the
    hypervisor gave to other guests.
    """

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _sample() -> tuple[list[int], float]:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        times = os.times()
        ours = times.user + times.system + times.children_user + times.children_system
        return [int(f) for f in fields], ours

    def result(self) -> dict[str, float]:
        """CPU capacity shares since construction: used by others, and stolen."""
        (start, ours_start), (end, ours_end) = self._start, self._sample()
        ticks = os.sysconf("SC_CLK_TCK")
        delta = [b - a for a, b in zip(start, end, strict=True)]
        user, nice, system, _idle, _iowait, irq, softirq, steal = delta[:8]
        total = sum(delta[:8]) or 1
        busy = user + nice + system + irq + softirq
        ours = (ours_end - ours_start) * ticks
        return {
            "other_processes": round(max(0.0, busy - ours) / total, 3),
            "steal": round(steal / total, 3),
        }
