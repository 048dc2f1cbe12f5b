"""The benchmark registry: scenarios, implementations and loops.

A *scenario* says what is measured (a workload, the peer's role, how elapsed time
becomes a figure). An *implementation* is one way of doing the measured side (raw
blocking sockets, asyncio streams, aioipc, anyio), with one *client* function per
scenario it supports. The runner pairs them: every implementation gets the same
workload and talks to the same raw peer (``benchmarks/peer.py``).

Every client is given its side of the scenario's channel (``_channels.py``) and the
workload. A scenario whose channel is ``"none"`` has no peer: its client builds what
it measures itself (a signal sender, a server and its clients, child processes).

To add a scenario: define a :class:`Scenario` in ``_scenarios.py`` (or in a family
module listed in ``_catalog.py``) and add it to ``SCENARIOS``, then give each
implementation a client for it with ``@IMPL.client("name")``. An implementation
without a client for a scenario is left out of that scenario's table (and the run
says so).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from ._channels import Channel, ChannelKind

Driver = Literal["blocking", "asyncio", "anyio"]
LoopName = Literal["asyncio", "uvloop"]
LOOPS: tuple[LoopName, ...] = ("asyncio", "uvloop")


@dataclass(frozen=True)
class Workload:
    """Exactly what one measurement does: the same for every implementation.

    ``size`` is the message size (ping-pong) or the chunk size of every send or
    receive call (bulk). ``warmup`` operations run before the clock starts;
    ``iterations`` operations are timed.
    """

    size: int
    warmup: int
    iterations: int

    def scaled(self, factor: float) -> Workload:
        """The same workload with warm-up and timed operations scaled (at least 1)."""
        return Workload(
            size=self.size,
            warmup=max(1, round(self.warmup * factor)),
            iterations=max(1, round(self.iterations * factor)),
        )


@dataclass(frozen=True)
class Scenario:
    """One thing to measure.

    ``channel`` is the kind of channel made for each measurement; ``peer_role`` the
    role of the raw peer process on its other end (see ``benchmarks/peer.py``), or
    ``None`` for no peer; ``peer_args(workload)`` the peer's arguments after its
    channel spec. ``score(elapsed_seconds, workload)`` turns the timed part of one
    measurement into the figure reported in ``unit``. ``pinnings`` are the placements
    measured when the command line names none (latency is worth seeing pinned too).
    ``group`` names the family the scenario belongs to, for ``--group``.
    """

    name: str
    title: str
    measures: str
    unit: str
    higher_is_better: bool
    workload: Workload
    channel: ChannelKind
    peer_role: str | None
    score: Callable[[float, Workload], float]
    group: str
    peer_quantities: Callable[[Workload], list[int]] = lambda workload: []
    pinnings: tuple[Literal["off", "same", "split"], ...] = ("off",)

    def peer_args(self, workload: Workload) -> list[str]:
        """The peer's command-line arguments that follow its fd number."""
        return [str(q) for q in self.peer_quantities(workload)]


SyncClient = Callable[[Channel, Workload], float]
AsyncClient = Callable[[Channel, Workload], Coroutine[Any, Any, float]]
Client = SyncClient | AsyncClient
C = TypeVar("C", bound=Client)


@dataclass
class Implementation:
    """One way of driving the measured side.

    ``driver`` says how a client runs: ``"blocking"`` calls it directly (no event
    loop); ``"asyncio"`` runs it in an ``asyncio.Runner`` on an aioipc loop;
    ``"anyio"`` runs it with ``anyio.run`` on the asyncio backend with the same loop
    factory. Each client takes ownership of its side of the channel, performs
    ``workload.warmup`` operations, then returns the seconds taken by
    ``workload.iterations`` operations, and closes what it was given before returning.

    ``role`` marks the references that ratios are computed against: ``"limit"`` (the
    raw blocking syscall loop) and ``"baseline"`` (plain asyncio on the same loop).
    ``unavailable()`` returns why the implementation cannot run here, or ``None``.
    """

    name: str
    summary: str
    driver: Driver
    role: Literal["limit", "baseline", ""] = ""
    unavailable: Callable[[], str | None] = lambda: None
    clients: dict[str, Client] = field(default_factory=dict)
    #: (scenario, loop) pairs this implementation is not measured on, and why.
    unsupported: dict[tuple[str, LoopName], str] = field(default_factory=dict)

    @property
    def loops(self) -> tuple[LoopName | None, ...]:
        """The event loops this implementation is measured on (``None``: no loop)."""
        return (None,) if self.driver == "blocking" else LOOPS

    def client(self, *scenarios: str) -> Callable[[C], C]:
        """Register the decorated function as this implementation's client for scenarios."""

        def register(func: C) -> C:
            for scenario in scenarios:
                if scenario in self.clients:
                    raise ValueError(f"{self.name} already has a client for {scenario!r}")
                self.clients[scenario] = func
            return func

        return register
