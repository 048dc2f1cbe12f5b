"""The benchmark registry: scenarios, implementations and loops.

A *scenario* says what is measured (a workload, the peer's role, how elapsed time
becomes a figure). An *implementation* is one way of doing the measured side (raw
blocking sockets, asyncio streams, aioipc, anyio), with one *client* function per
scenario it supports. The runner pairs them: every implementation gets the same
workload and talks to the same raw peer (``benchmarks/peer.py``).

To add a scenario: define a :class:`Scenario` in ``_scenarios.py`` and add it to
``SCENARIOS``, then give each implementation a client for it with
``@IMPL.client("name")``. An implementation without a client for a scenario is left
out of that scenario's table (and the run says so).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

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

    ``peer_args(workload)`` gives the peer's role and its arguments after the fd
    (see ``benchmarks/peer.py``); ``score(elapsed_seconds, workload)`` turns the timed
    part of one measurement into the figure reported in ``unit``.
    """

    name: str
    title: str
    measures: str
    unit: str
    higher_is_better: bool
    workload: Workload
    peer_role: str
    peer_quantities: Callable[[Workload], list[int]]
    score: Callable[[float, Workload], float]

    def peer_args(self, workload: Workload) -> list[str]:
        """The peer's command-line arguments that follow its fd number."""
        return [str(q) for q in self.peer_quantities(workload)]


SyncClient = Callable[[socket.socket, Workload], float]
AsyncClient = Callable[[socket.socket, Workload], Coroutine[Any, Any, float]]
Client = SyncClient | AsyncClient
C = TypeVar("C", bound=Client)


@dataclass
class Implementation:
    """One way of driving the measured side.

    ``driver`` says how a client runs: ``"blocking"`` calls it directly (no event
    loop); ``"asyncio"`` runs it in an ``asyncio.Runner`` on an aioipc loop;
    ``"anyio"`` runs it with ``anyio.run`` on the asyncio backend with the same loop
    factory. Each client takes ownership of the connected socket, performs
    ``workload.warmup`` operations, then returns the seconds taken by
    ``workload.iterations`` operations, and closes the socket before returning.

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

    @property
    def loops(self) -> tuple[LoopName | None, ...]:
        """The event loops this implementation is measured on (``None``: no loop)."""
        return (None,) if self.driver == "blocking" else LOOPS

    def client(self, scenario: str) -> Callable[[C], C]:
        """Register the decorated function as this implementation's client for a scenario."""

        def register(func: C) -> C:
            if scenario in self.clients:
                raise ValueError(f"{self.name} already has a client for {scenario!r}")
            self.clients[scenario] = func
            return func

        return register
