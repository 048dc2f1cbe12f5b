"""The byte-moving scenarios ``make bench`` runs: ping-pong and bulk, on every channel.

Workload sizes were chosen on the 2-vCPU AMD EPYC VM the first results come from so
that one measurement of the slowest implementation takes roughly a quarter to half a
second (ping-pong) or moves 1 GiB (bulk): long enough that timer and scheduling noise
is small against it, short enough that the full run fits in the 15 minutes the suite
promises. ``--quick`` scales warm-up and timed operations down (bulk to 128 MiB).

Scenarios of the other families (signals, processes, servers) live in their own
modules and are collected in ``_catalog.py``.
"""

from __future__ import annotations

from ._channels import DATAGRAM_KINDS, STREAM_KINDS, SYSV_KINDS, ChannelKind
from ._registry import Scenario, Workload

MIB = 1 << 20

#: What each channel is called in a table title.
CHANNEL_TITLES: dict[ChannelKind, str] = {
    "socketpair": "socketpair",
    "unix": "Unix socket",
    "tcp": "TCP loopback",
    "pipe": "pipe pair",
    "fifo": "FIFO pair",
    "pty": "pty (raw mode)",
    "udp": "UDP loopback",
    "unixgram": "Unix datagram socket",
    "sysv-msg": "SysV message queue",
    "sysv-sem": "SysV semaphore handoff",
}
#: Bulk transfers run on the byte streams that carry bulk data in practice (a pty's
#: line discipline is not one of them).
BULK_KINDS: tuple[ChannelKind, ...] = ("socketpair", "unix", "tcp", "pipe", "fifo")


def round_trip_us(elapsed: float, workload: Workload) -> float:
    """Mean microseconds per timed operation."""
    return elapsed / workload.iterations * 1e6


def per_second(elapsed: float, workload: Workload) -> float:
    """Timed operations per second."""
    return workload.iterations / elapsed


def mib_per_s(elapsed: float, workload: Workload) -> float:
    """Bytes moved (``size`` per operation) per second, in MiB."""
    return workload.size * workload.iterations / elapsed / MIB


def _transfers(workload: Workload) -> list[int]:
    return [workload.size * workload.warmup, workload.size * workload.iterations]


def _sem_rounds(workload: Workload) -> list[int]:
    return [workload.warmup + workload.iterations]


def _pingpong(kind: ChannelKind) -> Scenario:
    if kind in SYSV_KINDS:
        role = "msg-echo" if kind == "sysv-msg" else "sem-echo"
        what = (
            "a 64-byte message of type 1 answered as type 2"
            if kind == "sysv-msg"
            else "a unit given to one semaphore, answered by a unit given to another"
        )
    elif kind in DATAGRAM_KINDS:
        role, what = "dgram-echo", "one 64-byte datagram echoed"
    else:
        role, what = "echo", "64 bytes echoed, received in full"
    return Scenario(
        name=f"pingpong-{kind}",
        title=f"Ping-pong, {CHANNEL_TITLES[kind]}",
        measures=(
            f"Round-trip latency over a {CHANNEL_TITLES[kind]}: {what} by a raw blocking "
            "peer process, repeated. The figure is the mean time per round trip, so it "
            "includes both processes' wake-ups and everything the implementation does "
            "per send and per receive."
        ),
        unit="µs",
        higher_is_better=False,
        workload=Workload(size=64, warmup=500, iterations=5_000),
        channel=kind,
        peer_role=role,
        peer_quantities=_sem_rounds if kind == "sysv-sem" else lambda workload: [],
        score=round_trip_us,
        group="pingpong",
        pinnings=("off", "same"),
    )


def _bulk_send(kind: ChannelKind) -> Scenario:
    return Scenario(
        name=f"bulk-send-{kind}",
        title=f"Bulk send, {CHANNEL_TITLES[kind]}, 64 KiB chunks",
        measures=(
            f"Sending throughput over a {CHANNEL_TITLES[kind]} with back-pressure: send "
            "64 KiB chunks as fast as the implementation allows into a peer that reads "
            "and discards them; the clock stops when the peer acknowledges the last "
            "byte, so nothing still sitting in a buffer counts as sent."
        ),
        unit="MiB/s",
        higher_is_better=True,
        workload=Workload(size=64 * 1024, warmup=512, iterations=16_384),
        channel=kind,
        peer_role="sink",
        peer_quantities=_transfers,
        score=mib_per_s,
        group="bulk",
    )


def _bulk_receive(kind: ChannelKind) -> Scenario:
    return Scenario(
        name=f"bulk-receive-{kind}",
        title=f"Bulk receive, {CHANNEL_TITLES[kind]}, 64 KiB reads",
        measures=(
            f"Receiving throughput over a {CHANNEL_TITLES[kind]}: the peer writes as fast "
            "as it can and the measured side receives with a 64 KiB limit per call until "
            "it has every byte."
        ),
        unit="MiB/s",
        higher_is_better=True,
        workload=Workload(size=64 * 1024, warmup=512, iterations=16_384),
        channel=kind,
        peer_role="source",
        peer_quantities=_transfers,
        score=mib_per_s,
        group="bulk",
    )


PINGPONG_KINDS: tuple[ChannelKind, ...] = (*STREAM_KINDS, *DATAGRAM_KINDS, *SYSV_KINDS)
PINGPONG = {kind: _pingpong(kind) for kind in PINGPONG_KINDS}
BULK_SEND = {kind: _bulk_send(kind) for kind in BULK_KINDS}
BULK_RECEIVE = {kind: _bulk_receive(kind) for kind in BULK_KINDS}

BYTE_SCENARIOS: tuple[Scenario, ...] = (
    *PINGPONG.values(),
    *BULK_SEND.values(),
    *BULK_RECEIVE.values(),
)
