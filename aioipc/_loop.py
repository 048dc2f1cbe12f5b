"""Choosing and creating event loops.

aioipc's loops are ordinary asyncio and uvloop loops with one difference: their
``add_signal_handler`` and ``remove_signal_handler`` go through aioipc's signal hub, so
an application (aiohttp's ``run_app``, say) that installs its own handler neither
silences aioipc's subscribers nor leaves ``SIG_DFL`` under them when it removes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar, TypeVarTuple

__all__ = ["LoopName", "loop_factory", "new_event_loop", "run", "uvloop_available"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")
LoopName = Literal["auto", "asyncio", "uvloop"]


class SignalRoutingMixin:
    """Routes a loop's public signal-handler methods through the signal hub.

    The hub itself reaches the loop's real implementation with
    ``super(SignalRoutingMixin, loop)``.
    """

    def add_signal_handler(self, sig: int, callback: Callable[[*Ts], object], *args: *Ts) -> None:
        """Install ``callback`` as this loop's handler for ``sig``, beside aioipc's."""
        from ._signals import hub_for

        assert isinstance(self, asyncio.AbstractEventLoop)
        hub_for(self).set_loop_handler(sig, callback, args)

    def remove_signal_handler(self, sig: int) -> bool:
        """Remove the handler installed with :meth:`add_signal_handler`, if any."""
        from ._signals import hub_for

        assert isinstance(self, asyncio.AbstractEventLoop)
        return hub_for(self).remove_loop_handler(sig)


class AsyncioEventLoop(SignalRoutingMixin, asyncio.SelectorEventLoop):
    """asyncio's default (selector) event loop with hub-routed signal handlers."""


def uvloop_available() -> bool:
    """Tell whether uvloop can be imported."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def _uvloop_class() -> type[asyncio.AbstractEventLoop]:
    import uvloop

    class UVEventLoop(SignalRoutingMixin, uvloop.Loop):  # type: ignore[misc]
        """uvloop's event loop with hub-routed signal handlers."""

    return UVEventLoop


_loop_classes: dict[str, type[asyncio.AbstractEventLoop]] = {}


def _resolve(loop: str) -> str:
    if loop == "auto":
        return "uvloop" if uvloop_available() else "asyncio"
    if loop not in ("asyncio", "uvloop"):
        raise ValueError(f"loop must be 'auto', 'asyncio' or 'uvloop', not {loop!r}")
    if loop == "uvloop" and not uvloop_available():
        raise ValueError("loop='uvloop' was asked for, but uvloop is not installed")
    return loop


def new_event_loop(loop: LoopName = "auto") -> asyncio.AbstractEventLoop:
    """Create a new, not yet running event loop of the given kind.

    ``"auto"`` picks uvloop when it is installed, else asyncio's default loop.

    Raises:
        ValueError: ``loop`` is not one of the three names, or uvloop was asked for
            and is not installed.
    """
    name = _resolve(loop)
    cls = _loop_classes.get(name)
    if cls is None:
        cls = AsyncioEventLoop if name == "asyncio" else _uvloop_class()
        _loop_classes[name] = cls
    return cls()


def loop_factory(loop: LoopName = "auto") -> Callable[[], asyncio.AbstractEventLoop]:
    """Return a zero-argument callable that creates aioipc loops of one kind.

    Suits ``asyncio.Runner(loop_factory=…)``, ``anyio.run(…,
    backend_options={"loop_factory": …})`` and pytest-asyncio's
    ``pytest_asyncio_loop_factories`` hook.

    Raises:
        ValueError: as :func:`new_event_loop`.
    """
    name = _resolve(loop)

    def factory() -> asyncio.AbstractEventLoop:
        return new_event_loop(name)  # type: ignore[arg-type]

    factory.__name__ = f"aioipc_{name}_loop"
    return factory


def run(
    main: Coroutine[Any, Any, T],
    *,
    loop: LoopName = "auto",
    debug: bool | None = None,
) -> T:
    """Run a coroutine to completion on a fresh aioipc event loop and close it.

    Like :func:`asyncio.run`, but the loop is uvloop when ``loop="auto"`` and uvloop
    is installed, and its signal handling goes through aioipc's hub.

    Raises:
        ValueError: an unknown ``loop`` name, or uvloop asked for and missing.
        TypeError: ``main`` is not a coroutine.
        RuntimeError: called while an event loop is running in this thread.
    """
    if not asyncio.iscoroutine(main):
        raise TypeError(f"run() needs a coroutine, such as main(), not {main!r}")
    try:
        factory = loop_factory(loop)
        if asyncio._get_running_loop() is not None:
            raise RuntimeError("aioipc.run() cannot be called while an event loop is running")
    except (ValueError, RuntimeError):
        main.close()
        raise
    with asyncio.Runner(debug=debug, loop_factory=factory) as runner:
        return runner.run(main)
