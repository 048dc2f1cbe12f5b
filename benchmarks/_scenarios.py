"""The scenarios ``make bench`` runs.

Workload sizes were chosen on the 2-vCPU AMD EPYC VM the first results come from so
that one measurement of the slowest implementation takes roughly a quarter to half a
second: long enough that timer and scheduling noise is small against it, short enough
that the default run (all implementations, both loops, several rounds, alternating)
fits in about two minutes. ``--quick`` scales warm-up and timed operations down.
"""

from __future__ import annotations

from ._registry import Scenario, Workload

MIB = 1 << 20


def _round_trip_us(elapsed: float, workload: Workload) -> float:
    return elapsed / workload.iterations * 1e6


def _mib_per_s(elapsed: float, workload: Workload) -> float:
    return workload.size * workload.iterations / elapsed / MIB


def _transfers(workload: Workload) -> list[int]:
    return [workload.size * workload.warmup, workload.size * workload.iterations]


PINGPONG = Scenario(
    name="pingpong",
    title="Ping-pong, 64-byte messages",
    measures=(
        "Round-trip latency: send one 64-byte message, wait until the echo peer's copy "
        "has been received in full, repeat. The figure is the mean time per round trip "
        "over the timed iterations, so it includes both processes' wake-ups and "
        "everything the implementation does per send and per receive."
    ),
    unit="µs",
    higher_is_better=False,
    workload=Workload(size=64, warmup=500, iterations=5_000),
    peer_role="echo",
    peer_quantities=lambda workload: [],
    score=_round_trip_us,
)

BULK_SEND = Scenario(
    name="bulk-send",
    title="Bulk send, 64 KiB chunks",
    measures=(
        "Sending throughput with back-pressure: send 64 KiB chunks as fast as the "
        "implementation allows into a peer that reads and discards them; the clock "
        "stops when the peer acknowledges the last byte, so nothing still sitting in a "
        "buffer counts as sent."
    ),
    unit="MiB/s",
    higher_is_better=True,
    workload=Workload(size=64 * 1024, warmup=256, iterations=4096),
    peer_role="sink",
    peer_quantities=_transfers,
    score=_mib_per_s,
)

BULK_RECEIVE = Scenario(
    name="bulk-receive",
    title="Bulk receive, 64 KiB reads",
    measures=(
        "Receiving throughput: the peer writes as fast as it can and the measured side "
        "receives with a 64 KiB limit per call until it has every byte."
    ),
    unit="MiB/s",
    higher_is_better=True,
    workload=Workload(size=64 * 1024, warmup=256, iterations=4096),
    peer_role="source",
    peer_quantities=_transfers,
    score=_mib_per_s,
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (PINGPONG, BULK_SEND, BULK_RECEIVE)}
