"""Running measurements: one channel, two fresh processes, each time.

Every measurement starts from nothing: a fresh channel of the scenario's kind
(``_channels.open_channel``), a fresh raw peer (``python -m benchmarks.peer``) on one
side and a fresh worker process (``python -m benchmarks.worker``) running the
implementation's client on the other, both started with ``subprocess`` and
``pass_fds`` (nothing is forked from this process). A scenario without a peer gets
only the worker. The runner keeps neither end, reads the worker's figure from its stdout, and
reaps both processes, killing any that outlive its bound. It reports fds left open by
the client (the worker checks) or by the runner itself.

Implementations are run side by side: each round measures every (implementation,
loop) pair once, and the order rotates from round to round so that no pair always
runs first or last.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ._channels import open_channel
from ._fds import describe, open_fds
from ._machine import ROOT
from ._registry import Implementation, LoopName, Scenario, Workload

PinMode = Literal["off", "same", "split"]
PIN_MODES: tuple[PinMode, ...] = ("off", "same", "split")
PIN_DESCRIPTIONS: dict[PinMode, str] = {
    "off": "unpinned: the scheduler places both processes",
    "same": "pinned: measured side and peer on one CPU",
    "split": "pinned: measured side and peer on two different CPUs",
}

#: How long the measured side may take for one measurement (the defaults take one or two
#: seconds here), and the peer to exit once its side closed. Generous bounds, only there
#: so that a hang fails the measurement instead of stalling the run.
WORKER_TIMEOUT = 60.0
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


@dataclass(frozen=True)
class WorkerOptions:
    """How the measured side's process is set up, the same for every measurement.

    ``env`` is added to this process's environment; ``cold_heap`` leaves glibc's
    malloc as a fresh process has it (see ``benchmarks.worker.settle_heap``).
    """

    env: Mapping[str, str] = field(default_factory=dict)
    cold_heap: bool = False


@dataclass
class Series:
    """Every sample of one (scenario, implementation, loop, pinning) combination."""

    scenario: str
    implementation: str
    loop: LoopName | None
    pinning: PinMode
    samples: list[float] = field(default_factory=list)


def _reap(process: subprocess.Popen[bytes], role: str, timeout: float) -> int:
    """Wait for a child; kill it if it outlives ``timeout``; return its status.

    Raises:
        BenchmarkError: it had to be killed.
    """
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise BenchmarkError(
            f"the {role} did not exit within {timeout:.0f} s; killed it"
        ) from None


def measure(
    impl: Implementation,
    loop: LoopName | None,
    scenario: Scenario,
    workload: Workload,
    placement: Placement,
    options: WorkerOptions,
    warnings: list[str],
) -> float:
    """Make one measurement and return its figure in ``scenario.unit``.

    Starts the peer and the worker (``python -m benchmarks.worker``) on the two sides
    of a new channel, keeps neither side, reaps both and removes the channel, setting
    the worker up as ``options`` say. Appends to ``warnings`` if the client left
    file descriptors open.

    Raises:
        BenchmarkError: the peer or the worker failed, or did not exit in time.
    """
    before = open_fds()
    channel = open_channel(scenario.channel)
    ready_r, ready_w = os.pipe() if scenario.peer_role else (None, None)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        if scenario.peer_role:
            assert ready_w is not None
            peer_argv = [sys.executable, "-m", "benchmarks.peer", "--ready", str(ready_w)]
            if placement.peer_cpu is not None:
                peer_argv += ["--cpu", str(placement.peer_cpu)]
            peer_argv += [
                scenario.peer_role,
                channel.peer.to_json(),
                *scenario.peer_args(workload),
            ]
            processes.append(
                subprocess.Popen(peer_argv, pass_fds=(ready_w, *channel.peer.fds), cwd=ROOT)
            )
        worker_argv = [
            *(sys.executable, "-m", "benchmarks.worker"),
            *("--impl", impl.name, "--scenario", scenario.name),
            *(("--loop", loop) if loop else ()),
            *("--size", str(workload.size), "--warmup", str(workload.warmup)),
            *("--iterations", str(workload.iterations)),
            *(("--cold-heap",) if options.cold_heap else ()),
            *(
                ("--cpus", ",".join(map(str, sorted(placement.measured_cpus))))
                if placement.mode != "off"
                else ()
            ),
            *(("--ready", str(ready_r)) if ready_r is not None else ()),
            channel.worker.to_json(),
        ]
        inherited = (*channel.worker.fds, *((ready_r,) if ready_r is not None else ()))
        worker = subprocess.Popen(
            worker_argv,
            pass_fds=inherited,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            env={**os.environ, **options.env},
        )
        processes.append(worker)
        channel.close_inherited()
        for fd in (ready_r, ready_w):
            if fd is not None:
                os.close(fd)
        ready_r = ready_w = None
        try:
            output, _ = worker.communicate(timeout=WORKER_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise BenchmarkError(
                f"{impl.name} did not finish {scenario.name} within {WORKER_TIMEOUT:.0f} s"
            ) from None
        if worker.returncode != 0:
            raise BenchmarkError(
                f"the {impl.name} worker failed {scenario.name} with status {worker.returncode}"
            )
        if scenario.peer_role:
            peer_status = _reap(processes[0], f"{scenario.peer_role} peer", PEER_EXIT_TIMEOUT)
            if peer_status != 0:
                raise BenchmarkError(
                    f"the {scenario.peer_role} peer of {scenario.name} failed with status "
                    f"{peer_status}"
                )
        result = json.loads(output)
    finally:
        for fd in (ready_r, ready_w):
            if fd is not None:
                os.close(fd)
        for process in processes:
            if process.returncode is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        channel.close()
    where = impl.name + (f" on {loop}" if loop else "")
    if result["leaked_fds"]:
        warnings.append(f"{scenario.name}: {where} left fds {result['leaked_fds']} open")
    leaked_here = {fd: t for fd, t in open_fds().items() if before.get(fd) != t}
    if leaked_here:
        warnings.append(f"{scenario.name}: the harness left fds {describe(leaked_here)} open")
    return scenario.score(float(result["elapsed"]), workload)


def run_scenario(
    scenario: Scenario,
    entries: Sequence[tuple[Implementation, LoopName | None]],
    workload: Workload,
    rounds: int,
    placement: Placement,
    options: WorkerOptions,
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
            try:
                value = measure(impl, loop, scenario, workload, placement, options, warnings)
            except BenchmarkError as error:
                # One failed measurement is reported, not fatal: the rest of the run
                # still says something, and the failure is in the saved results.
                warnings.append(
                    f"{scenario.name} [pin {placement.mode}]: {impl.name}"
                    + (f" on {loop}" if loop else "")
                    + f" failed in round {round_index + 1}: {error}"
                )
                continue
            series[impl.name, loop].samples.append(value)
    progress(
        f"{label}: {rounds} rounds of {len(entries)} implementations "
        f"in {time.monotonic() - start:.1f} s",
        True,
    )
    return [s for s in series.values() if s.samples]
