"""The ``aioipc`` command, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys

import aioipc


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aioipc", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_signals_lists_numbers_and_names_like_kill_l() -> None:
    result = run_cli("signals")
    assert result.returncode == 0
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["1", "SIGHUP"] in rows
    assert ["9", "SIGKILL"] in rows
    assert ["34", "SIGRTMIN"] in rows or any(row[1].startswith("SIGRT") for row in rows)


def test_version() -> None:
    result = run_cli("--version")
    assert result.stdout.strip() == f"aioipc {aioipc.__version__}"


def test_unknown_command_is_a_usage_error() -> None:
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
