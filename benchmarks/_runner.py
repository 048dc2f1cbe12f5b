"""Running measurements: one socketpair, one raw peer process, one client each time.

Every measurement starts from nothing: a fresh ``socket.socketpair()``, a fresh peer
(``python -m benchmarks.peer``, started with ``subprocess`` and ``pass_fds`` — no
fork of this process, so no event loop state is inherited), a fresh event loop for the
asyncio and anyio drivers. The peer reports ready before the client is handed its
socket; the client closes its socket when done; the peer then exits and is reaped. The
runner checks that each measurement leaves no fd behind.

Implementations are run side by side: each round measures every (implementation,
loop) pair once, and the order rotates from round to round so that no pair always
runs first or last.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

import anyio

import aioipc

from ._machine import ROOT
from ._protocol import READY
from ._registry import AsyncClient, Implementation, LoopName, Scenario, SyncClient, Workload

PinMode = Literal["off", "same", "split"]
PIN_MODES: tuple[PinMode, ...] = ("off", "same", "split")
PIN_DESCRIPTIONS: dict[PinMode, str] = {
    "off": "unpinned: the scheduler places both processes",
    "same": "pinned: measured side and peer on one CPU",
    "split": "pinned: measured side and peer on two different CPUs",
}

#: How long a peer may take to start (a cold interpreter on a loaded machine), and to
#: exit after its socket closed. Generous bounds, only there so a broken peer fails the
#: run instead of hanging it.
PEER_START_TIMEOUT = 30.0
PEER_EXIT_TIMEOUT = 10.0


class BenchmarkError(Exception):
    """A measurement could not be made, or its peer reported a protocol error."""


@dataclass(frozen=True)
class Placement:
    """Where the measured side and the peer run for one pinning mode."""

    mode: PinMode
    measured_cpus: frozenset[int]
    peer_cpu: int | None

    @classmethod
    def for_mode(cls, mode: PinMode, cpus: Sequence[int]) -> Placement:
        """Place both sides on the given usable CPUs (the first one, or the first two).

        Raises:
            BenchmarkError: ``"split"`` was asked for with fewer than two usable CPUs.
        """
        cpus = sorted(cpus)
        if mode == "off":
            return cls(mode, frozenset(cpus), None)
        if mode == "same":
            return cls(mode, frozenset(cpus[:1]), cpus[0])
        if len(cpus) < 2:
            raise BenchmarkError("--pin split needs two usable CPUs; this process has one")
        return cls(mode, frozenset(cpus[:1]), cpus[1])

    def describe(self) -> dict[str, object]:
        """The placement as saved in the results."""
        return {
            "description": PIN_DESCRIPTIONS[self.mode],
            "measured_cpus": sorted(self.measured_cpus),
            "peer_cpu": self.peer_cpu,
        }


@dataclass
class Series:
    """Every sample of one (scenario, implementation, loop, pinning) combination."""

    scenario: str
    implementation: str
    loop: LoopName | None
    pinning: PinMode
    samples: list[float] = field(default_factory=list)


def _open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


def _drive(
    impl: Implementation,
    scenario: Scenario,
    sock: socket.socket,
    workload: Workload,
    loop: LoopName | None,
) -> float:
    client = impl.clients[scenario.name]
    if impl.driver == "blocking":
        return cast(SyncClient, client)(sock, workload)
    if loop is None:
        raise BenchmarkError(f"{impl.name} runs on an event loop; none was given")
    async_client = cast(AsyncClient, client)
    factory = aioipc.loop_factory(loop)
    if impl.driver == "asyncio":
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(async_client(sock, workload))
    return anyio.run(
        async_client, sock, workload, backend="asyncio", backend_options={"loop_factory": factory}
    )


def measure(
    impl: Implementation,
    loop: LoopName | None,
    scenario: Scenario,
    workload: Workload,
    placement: Placement,
    warnings: list[str],
) -> float:
    """Make one measurement and return its figure in ``scenario.unit``.

    Appends to ``warnings`` if the measurement left file descriptors open.

    Raises:
        BenchmarkError: the peer did not start, failed, or did not exit.
    """
    before = _open_fds()
    ours, theirs = socket.socketpair()
    try:
        fd = theirs.fileno()
        argv = [sys.executable, "-m", "benchmarks.peer"]
        if placement.peer_cpu is not None:
            argv += ["--cpu", str(placement.peer_cpu)]
        argv += [scenario.peer_role, str(fd), *scenario.peer_args(workload)]
        try:
            peer = subprocess.Popen(argv, pass_fds=(fd,), cwd=ROOT)
        finally:
            theirs.close()
        try:
            ours.settimeout(PEER_START_TIMEOUT)
            if ours.recv(1) != READY:
                raise BenchmarkError(f"the {scenario.peer_role} peer did not report ready")
            ours.settimeout(None)
            previous = os.sched_getaffinity(0)
            os.sched_setaffinity(0, placement.measured_cpus)
            gc.collect()
            try:
                elapsed = _drive(impl, scenario, ours, workload, loop)
            finally:
                os.sched_setaffinity(0, previous)
        finally:
            ours.close()
            try:
                status = peer.wait(PEER_EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                peer.kill()
                peer.wait()
                raise BenchmarkError(
                    f"the {scenario.peer_role} peer did not see EOF within "
                    f"{PEER_EXIT_TIMEOUT:.0f} s after {impl.name} returned (is a copy of the "
                    f"socket still open?); killed it"
                ) from None
        if status != 0:
            raise BenchmarkError(f"the {scenario.peer_role} peer failed with status {status}")
    finally:
        ours.close()
    leaked = _open_fds() - before
    if leaked:
        where = f"{impl.name}" + (f" on {loop}" if loop else "")
        warnings.append(f"{scenario.name}: {where} left fds {sorted(leaked)} open")
    return scenario.score(elapsed, workload)


def run_scenario(
    scenario: Scenario,
    entries: Sequence[tuple[Implementation, LoopName | None]],
    workload: Workload,
    rounds: int,
    placement: Placement,
    warnings: list[str],
    progress: Callable[[str, bool], None],
) -> list[Series]:
    """Measure every entry ``rounds`` times, alternating, and return their samples."""
    series = {
        (impl.name, loop): Series(scenario.name, impl.name, loop, placement.mode)
        for impl, loop in entries
    }
    label = f"{scenario.name} [pin {placement.mode}]"
    start = time.monotonic()
    for round_index in range(rounds):
        shift = round_index % len(entries)
        for impl, loop in [*entries[shift:], *entries[:shift]]:
            progress(
                f"{label}: round {round_index + 1}/{rounds}, {impl.name}"
                + (f" on {loop}" if loop else "")
                + f" ({time.monotonic() - start:.0f} s)",
                False,
            )
            value = measure(impl, loop, scenario, workload, placement, warnings)
            series[impl.name, loop].samples.append(value)
    progress(
        f"{label}: {rounds} rounds of {len(entries)} implementations "
        f"in {time.monotonic() - start:.1f} s",
        True,
    )
    return list(series.values())
