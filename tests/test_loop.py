"""aioipc.run and the loop factories."""

from __future__ import annotations

import asyncio
import signal

import pytest
import uvloop

import aioipc


async def _loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


@pytest.mark.parametrize(
    ("name", "base"),
    [("asyncio", asyncio.SelectorEventLoop), ("uvloop", uvloop.Loop), ("auto", uvloop.Loop)],
)
def test_run_uses_the_requested_loop(name: str, base: type) -> None:
    loop_type = aioipc.run(_loop_type(), loop=name)  # type: ignore[arg-type]
    assert issubclass(loop_type, base)


def test_run_returns_the_result_and_propagates_errors() -> None:
    async def fail() -> None:
        raise LookupError("from inside")

    async def answer() -> int:
        return 42

    assert aioipc.run(answer()) == 42
    with pytest.raises(LookupError, match="from inside"):
        aioipc.run(fail())


def test_run_rejects_unknown_loop_names_and_non_coroutines() -> None:
    coroutine = _loop_type()
    with pytest.raises(ValueError, match="'auto', 'asyncio' or 'uvloop'"):
        aioipc.run(coroutine, loop="trio")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a coroutine"):
        aioipc.run(_loop_type)  # type: ignore[arg-type]


def _signal_reaches_app_handler_and_aioipc(loop: asyncio.AbstractEventLoop) -> list[int]:
    received: list[int] = []

    async def main() -> None:
        done = loop.create_future()
        loop.add_signal_handler(signal.SIGUSR2, lambda: done.set_result(1))
        with aioipc.on_signal(signal.SIGUSR2, received.append):
            signal.raise_signal(signal.SIGUSR2)
            await done
        assert loop.remove_signal_handler(signal.SIGUSR2)

    loop.run_until_complete(main())
    return received


@pytest.mark.parametrize("name", ["asyncio", "uvloop"])
def test_loop_factory_makes_loops_that_route_signal_handlers_through_the_hub(name: str) -> None:
    factory = aioipc.loop_factory(name)  # type: ignore[arg-type]
    with asyncio.Runner(loop_factory=factory) as runner:
        loop = runner.get_loop()
        assert isinstance(loop, aioipc._loop.SignalRoutingMixin)
        assert _signal_reaches_app_handler_and_aioipc(loop) == [signal.SIGUSR2]
