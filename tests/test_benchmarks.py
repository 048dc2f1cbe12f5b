"""The benchmark suite's own code, run for real in its tiny mode.

``python -m benchmarks --tiny`` makes one measurement of every scenario for every
implementation on every loop it supports, with the smallest workloads: real channels,
real peer and worker processes, real SysV objects. The figures mean nothing and are
never asserted on; what is checked is that every combination ran, produced a positive
figure, left nothing open, and that the saved document renders as tables, a summary
and a chart.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks._catalog import IMPLEMENTATIONS, SCENARIOS
from benchmarks._channels import open_channel
from benchmarks._fds import open_fds
from benchmarks._registry import LOOPS
from benchmarks._report import MARK_BEGIN, MARK_END

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _run(*arguments: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    """One tiny run of the whole suite; its results directory, document and stdout."""
    results = tmp_path_factory.mktemp("results")
    done = _run("--tiny", "--results-dir", str(results), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    document: dict[str, Any] = json.loads((results / "latest.json").read_text())
    return results, document, done.stdout


@pytest.mark.timeout(900)
def test_every_scenario_and_implementation_ran_once(
    tiny_run: tuple[Path, dict[str, Any], str],
) -> None:
    _, document, _ = tiny_run
    expected = {
        (scenario.name, impl.name, loop)
        for scenario in SCENARIOS.values()
        for impl in IMPLEMENTATIONS.values()
        if scenario.name in impl.clients and impl.unavailable() is None
        for loop in impl.loops
        if loop is None or (scenario.name, loop) not in impl.unsupported
    }
    got = {(r["scenario"], r["implementation"], r["loop"]) for r in document["results"]}
    assert got == expected
    for result in document["results"]:
        assert len(result["samples"]) == 1
        (sample,) = result["samples"]
        assert math.isfinite(sample)
        assert sample > 0
        assert result["median"] == result["min"] == result["max"] == sample
    # Plain asyncio, the reference of the ratios, is measured wherever it has a client,
    # on both loops unless the run says why not.
    asyncio_impl = IMPLEMENTATIONS["asyncio"]
    for scenario in SCENARIOS.values():
        names = {
            (r["implementation"], r["loop"])
            for r in document["results"]
            if r["scenario"] == scenario.name
        }
        for loop in LOOPS:
            if scenario.name not in asyncio_impl.clients:
                continue
            if (scenario.name, loop) in asyncio_impl.unsupported:
                assert f"asyncio on {loop}, {scenario.name}" in document["skipped"]
            else:
                assert ("asyncio", loop) in names


@pytest.mark.timeout(900)
def test_nothing_leaked_and_the_document_describes_the_run(
    tiny_run: tuple[Path, dict[str, Any], str],
) -> None:
    results, document, stdout = tiny_run
    assert not [w for w in document["warnings"] if "left fds" in w or "failed in round" in w]
    assert document["settings"]["rounds"] == 1
    assert set(document["scenarios"]) == set(SCENARIOS)
    assert document["machine"]["versions"]["uvloop"]
    for scenario in SCENARIOS.values():
        assert scenario.title in stdout
    saved = sorted(p.name for p in results.iterdir())
    assert "latest.json" in saved
    (chart,) = [name for name in saved if name.endswith(".png")]
    assert (results / chart).read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.timeout(900)
def test_saved_results_render_into_a_markdown_file(
    tiny_run: tuple[Path, dict[str, Any], str], tmp_path: Path
) -> None:
    results, document, _ = tiny_run
    page = tmp_path / "page.md"
    page.write_text(f"# Title\n\n{MARK_BEGIN}\nold\n{MARK_END}\n\nafter\n")
    latest = str(results / "latest.json")
    done = _run("--markdown", latest, "--summary", "--into", str(page))
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert "old" not in text
    assert text.startswith("# Title")
    assert text.endswith("after\n")
    assert "aioipc cost vs asyncio" in text
    summary_rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(summary_rows) == 1 + len(document["scenarios"])  # the header, a row each

    chart = tmp_path / "chart.png"
    done = _run("--markdown", latest, "--chart", str(chart))
    assert done.returncode == 0, done.stderr
    assert chart.read_bytes().startswith(PNG_SIGNATURE)


def test_list_names_every_scenario_and_implementation() -> None:
    done = _run("--list")
    assert done.returncode == 0, done.stderr
    for name in (*SCENARIOS, *IMPLEMENTATIONS):
        assert name in done.stdout


def test_bad_arguments_are_usage_errors() -> None:
    done = _run("--summary")
    assert done.returncode == 2
    assert "--summary goes with --markdown" in done.stderr
    done = _run("--markdown", "/nonexistent/results.json")
    assert done.returncode == 1
    assert "/nonexistent/results.json" in done.stderr


@pytest.mark.parametrize("kind", sorted({s.channel for s in SCENARIOS.values()}))
def test_every_channel_kind_opens_and_closes_without_leaks(kind: str) -> None:
    before = open_fds()
    channel = open_channel(kind)  # type: ignore[arg-type]
    try:
        for spec in (channel.worker, channel.peer):
            assert spec.kind == kind
            assert type(spec).from_json(spec.to_json()) == spec
    finally:
        channel.close()
    assert open_fds() == before
