"""Signals: the hub, on_signal, signal streams, ignore_signals, kill, names.

Every signal here is real: sent by this process with os.kill, or by a child (perl,
started and reaped by the test).  Async tests run on asyncio and on uvloop (conftest);
the sync tests that build their own loops are parametrised over both by hand.  The
autouse fixture below checks that every test leaves the signal dispositions as it found
them.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
import uvloop

import aioipc
from aioipc import _signals

SIGRT3 = signal.SIGRTMIN + 3
WATCHED = (
    signal.SIGHUP,
    signal.SIGINT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
    signal.SIGTERM,
    signal.SIGPIPE,
    SIGRT3,
)
PERL = "/usr/bin/perl"
LOOP_KINDS = ("asyncio", "uvloop")


@pytest.fixture(autouse=True)
def dispositions_restored() -> Iterator[None]:
    """Fail a test that leaves a signal disposition different from before it."""
    before = {sig: signal.getsignal(sig) for sig in WATCHED}
    yield
    after = {sig: signal.getsignal(sig) for sig in WATCHED}
    changed = {
        signal.Signals(s).name: (before[s], after[s]) for s in WATCHED if before[s] != after[s]
    }
    assert not changed, f"signal handlers not restored: {changed}"
    assert not _signals._ignore_frames


class Recorder:
    """A callback that records signal numbers and lets a test wait for a count."""

    def __init__(self) -> None:
        self.got: list[int] = []
        self._changed = asyncio.Event()

    def __call__(self, signum: int) -> None:
        self.got.append(signum)
        self._changed.set()

    async def wait(self, count: int = 1) -> list[int]:
        async with asyncio.timeout(10):
            while len(self.got) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.got


def raise_self(sig: int) -> None:
    os.kill(os.getpid(), sig)


async def run_perl(code: str, *args: str) -> str:
    """Run a perl one-liner to completion (reaped) and return its stdout."""
    proc = await asyncio.create_subprocess_exec(
        PERL, "-e", code, *args, stdout=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(10):
        out, _ = await proc.communicate()
    assert proc.returncode == 0
    return out.decode()


def is_uvloop(loop: asyncio.AbstractEventLoop) -> bool:
    return isinstance(loop, uvloop.Loop)


# ------------------------------------------------------------------------- names


def test_signal_name_and_number_for_every_signal() -> None:
    for signum in signal.valid_signals():
        name = aioipc.signal_name(signum)
        assert name.startswith("SIG")
        assert aioipc.signal_number(name) == signum
        assert aioipc.signal_number(name[3:].lower()) == signum
    assert aioipc.signal_name(1) == "SIGHUP"
    assert aioipc.signal_name(signal.SIGTERM) == "SIGTERM"
    assert aioipc.signal_name(signal.SIGABRT) == "SIGABRT"  # not SIGIOT
    assert aioipc.signal_name("hup") == "SIGHUP"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("HUP", signal.SIGHUP),
        ("SIGHUP", signal.SIGHUP),
        ("hup", signal.SIGHUP),
        (" sigterm ", signal.SIGTERM),
        ("IOT", signal.SIGABRT),
        ("CLD", signal.SIGCHLD),
        ("SIGRTMIN", signal.SIGRTMIN),
        ("SIGRTMIN+3", signal.SIGRTMIN + 3),
        ("rtmin+3", signal.SIGRTMIN + 3),
        ("SIGRTMAX-2", signal.SIGRTMAX - 2),
        ("RTMAX", signal.SIGRTMAX),
        (signal.SIGUSR1, signal.SIGUSR1),
        (10, 10),
    ],
)
def test_signal_number_accepts(text: str | int, number: int) -> None:
    result = aioipc.signal_number(text)
    assert result == number
    assert type(result) is int


def test_realtime_names_follow_kill_l() -> None:
    assert aioipc.signal_name(signal.SIGRTMIN) == "SIGRTMIN"
    assert aioipc.signal_name(signal.SIGRTMIN + 3) == "SIGRTMIN+3"
    assert aioipc.signal_name(signal.SIGRTMAX - 2) == "SIGRTMAX-2"
    assert aioipc.signal_name(signal.SIGRTMAX) == "SIGRTMAX"
    # bash's `kill -l` table, the authority for these spellings.
    out = subprocess.run(
        ["bash", "-c", f"kill -l {signal.SIGRTMIN + 3} {signal.SIGRTMAX - 2}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert ["SIG" + n for n in out] == ["SIGRTMIN+3", "SIGRTMAX-2"]


def test_names_agree_with_perl_config() -> None:
    # perlipc builds %signo and @signame from $Config{sig_name}: check against it.
    out = subprocess.run(
        [PERL, "-MConfig", "-e", "print $Config{sig_name}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    checked = 0
    for number, name in enumerate(out[: signal.SIGRTMIN]):
        if number in signal.valid_signals() and not name.startswith("NUM"):
            assert aioipc.signal_number(name) == number, name
            checked += 1
    assert checked >= 30


@pytest.mark.parametrize("bad", ["NOPE", "SIGNOPE", "", "SIGRTMIN-1", "SIGRTMAX+1", "SIGRTMIN+99"])
def test_unknown_signal_name_is_named_in_the_error(bad: str) -> None:
    with pytest.raises(ValueError, match=repr(bad).replace("+", r"\+")):
        aioipc.signal_number(bad)


@pytest.mark.parametrize("bad", [0, -1, 32, 65, 1000])
def test_invalid_signal_number(bad: int) -> None:
    with pytest.raises(ValueError, match="not a signal number"):
        aioipc.signal_number(bad)
    with pytest.raises(ValueError, match="not a signal number"):
        aioipc.signal_name(bad)


@pytest.mark.parametrize("bad", [True, None, 1.0, b"HUP"])
def test_signal_of_wrong_type(bad: Any) -> None:
    with pytest.raises(TypeError, match="signal number or name"):
        aioipc.signal_number(bad)


# --------------------------------------------------------------------- on_signal


async def test_on_signal_from_self() -> None:
    before = signal.getsignal(signal.SIGUSR1)
    rec = Recorder()
    handle = aioipc.on_signal(signal.SIGUSR1, rec)
    assert handle.active
    assert handle.signum == signal.SIGUSR1
    assert handle.callback is rec
    raise_self(signal.SIGUSR1)
    assert await rec.wait() == [signal.SIGUSR1]
    handle.remove()
    handle.remove()  # idempotent
    assert not handle.active
    assert signal.getsignal(signal.SIGUSR1) == before


async def test_on_signal_from_another_process() -> None:
    rec = Recorder()
    with aioipc.on_signal("USR1", rec):
        await run_perl("kill USR1 => getppid")
        assert await rec.wait() == [signal.SIGUSR1]


async def test_context_manager_removes_and_restores() -> None:
    before = signal.getsignal(signal.SIGHUP)
    rec = Recorder()
    with aioipc.on_signal(signal.SIGHUP, rec) as handle:
        assert signal.getsignal(signal.SIGHUP) != before
        raise_self(signal.SIGHUP)
        await rec.wait()
    assert not handle.active
    assert signal.getsignal(signal.SIGHUP) == before


async def test_many_subscribers_on_one_signal() -> None:
    recorders = [Recorder() for _ in range(5)]
    handles = [aioipc.on_signal(signal.SIGUSR2, r) for r in recorders]
    raise_self(signal.SIGUSR2)
    for r in recorders:
        assert await r.wait() == [signal.SIGUSR2]
    # Removing some leaves the others subscribed.
    for h in handles[:3]:
        h.remove()
    raise_self(signal.SIGUSR2)
    for r in recorders[3:]:
        assert await r.wait(2) == [signal.SIGUSR2] * 2
    assert [len(r.got) for r in recorders[:3]] == [1, 1, 1]
    for h in handles[3:]:
        h.remove()


async def test_async_callback_runs_as_a_task() -> None:
    done = Recorder()
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(signum: int) -> None:
        started.set()
        await release.wait()  # the hub must keep this task alive meanwhile
        done(signum)

    with aioipc.on_signal(signal.SIGUSR1, slow) as handle:
        raise_self(signal.SIGUSR1)
        async with asyncio.timeout(10):
            await started.wait()
        assert len(handle._hub._tasks) == 1  # held by the hub, not only by the loop
        release.set()
        assert await done.wait() == [signal.SIGUSR1]
    await asyncio.sleep(0)  # the task's done callback runs one iteration later
    assert not handle._hub._tasks


async def test_callback_runs_in_the_subscribers_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen: list[str] = []
    rec = Recorder()
    var.set("at subscription")

    def callback(signum: int) -> None:
        seen.append(var.get())
        rec(signum)

    with aioipc.on_signal(signal.SIGUSR1, callback):
        var.set("later")
        raise_self(signal.SIGUSR1)
        await rec.wait()
    assert seen == ["at subscription"]


async def test_callback_exception_is_logged_and_others_still_receive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = Recorder()

    def broken(signum: int) -> None:
        raise ValueError("broken handler")

    async def broken_async(signum: int) -> None:
        raise LookupError("broken async handler")

    with (
        caplog.at_level(logging.ERROR, logger="aioipc.signals"),
        aioipc.on_signal(signal.SIGUSR2, broken),
        aioipc.on_signal(signal.SIGUSR2, broken_async),
        aioipc.on_signal(signal.SIGUSR2, rec),
    ):
        raise_self(signal.SIGUSR2)
        await rec.wait()
        async with asyncio.timeout(10):
            while len(caplog.records) < 2:
                await asyncio.sleep(0)
        raise_self(signal.SIGUSR2)  # still delivered after the errors
        await rec.wait(2)
    errors = {type(r.exc_info[1]) for r in caplog.records if r.exc_info}
    assert {ValueError, LookupError} <= errors
    for record in caplog.records:
        assert record.name == "aioipc.signals"
        assert "SIGUSR2" in record.getMessage()


async def test_realtime_signal() -> None:
    rec = Recorder()
    with aioipc.on_signal("SIGRTMIN+3", rec):
        raise_self(SIGRT3)
        assert await rec.wait() == [SIGRT3]


async def test_kill_by_name_reaches_a_subscriber() -> None:
    rec = Recorder()
    with aioipc.on_signal(signal.SIGWINCH, rec):
        aioipc.kill(os.getpid(), "WINCH")
        assert await rec.wait() == [signal.SIGWINCH]


# ------------------------------------------------------------- the loop's handler


async def test_app_handler_first_then_aioipc() -> None:
    loop = asyncio.get_running_loop()
    before = signal.getsignal(signal.SIGUSR1)
    app = Recorder()
    loop.add_signal_handler(signal.SIGUSR1, app, signal.SIGUSR1)
    ours = Recorder()
    handle = aioipc.on_signal(signal.SIGUSR1, ours)
    raise_self(signal.SIGUSR1)
    await app.wait()
    await ours.wait()
    # aioipc leaves: the application's handler still works.
    handle.remove()
    raise_self(signal.SIGUSR1)
    await app.wait(2)
    assert len(ours.got) == 1
    assert loop.remove_signal_handler(signal.SIGUSR1) is True
    assert signal.getsignal(signal.SIGUSR1) == before


async def test_aioipc_first_then_app_handler() -> None:
    loop = asyncio.get_running_loop()
    before = signal.getsignal(signal.SIGUSR1)
    ours = Recorder()
    handle = aioipc.on_signal(signal.SIGUSR1, ours)
    app = Recorder()
    loop.add_signal_handler(signal.SIGUSR1, app, signal.SIGUSR1)
    raise_self(signal.SIGUSR1)
    await app.wait()
    await ours.wait()  # installing the app's handler did not silence aioipc
    # The app removes its handler: aioipc still receives, no SIG_DFL under it.
    assert loop.remove_signal_handler(signal.SIGUSR1) is True
    assert loop.remove_signal_handler(signal.SIGUSR1) is False
    raise_self(signal.SIGUSR1)
    await ours.wait(2)
    assert len(app.got) == 1
    handle.remove()
    assert signal.getsignal(signal.SIGUSR1) == before


async def test_loop_handler_has_asyncio_semantics() -> None:
    loop = asyncio.get_running_loop()
    first, second = Recorder(), Recorder()
    assert loop.remove_signal_handler(signal.SIGHUP) is False
    loop.add_signal_handler(signal.SIGHUP, first, 1)
    loop.add_signal_handler(signal.SIGHUP, second, 2)  # replaces the first
    raise_self(signal.SIGHUP)
    assert await second.wait() == [2]
    assert first.got == []
    assert loop.remove_signal_handler(signal.SIGHUP) is True

    async def coro() -> None:
        pass

    with pytest.raises(TypeError):
        loop.add_signal_handler(signal.SIGHUP, coro)
    with pytest.raises(RuntimeError, match="cannot be caught"):
        loop.add_signal_handler(signal.SIGKILL, first)
    with pytest.raises(ValueError, match="invalid signal"):
        loop.add_signal_handler(999, first)
    with pytest.raises(TypeError):
        loop.add_signal_handler("HUP", first)  # type: ignore[arg-type]


async def test_loop_handler_error_goes_to_the_loop_exception_handler() -> None:
    loop = asyncio.get_running_loop()
    contexts: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda loop, context: contexts.append(context))

    def broken() -> None:
        raise ValueError("app handler broke")

    ours = Recorder()
    loop.add_signal_handler(signal.SIGUSR2, broken)
    with aioipc.on_signal(signal.SIGUSR2, ours):
        raise_self(signal.SIGUSR2)
        await ours.wait()
    assert loop.remove_signal_handler(signal.SIGUSR2)
    loop.set_exception_handler(None)
    assert len(contexts) == 1
    assert isinstance(contexts[0]["exception"], ValueError)
    assert "SIGUSR2" in contexts[0]["message"]


@pytest.mark.parametrize("kind", LOOP_KINDS)
def test_loop_handler_system_exit_stops_the_loop_after_fan_out(kind: str) -> None:
    # aiohttp's SIGINT/SIGTERM handler raises GracefulExit, a SystemExit.
    loop = aioipc.new_event_loop(kind)  # type: ignore[arg-type]
    ours = Recorder()

    def graceful_exit() -> None:
        raise SystemExit(3)

    async def main() -> None:
        loop.add_signal_handler(signal.SIGUSR2, graceful_exit)
        aioipc.on_signal(signal.SIGUSR2, ours)
        raise_self(signal.SIGUSR2)
        await asyncio.Event().wait()

    task = loop.create_task(main())
    try:
        with pytest.raises(SystemExit) as info:
            loop.run_until_complete(task)
        assert info.value.code == 3
        assert ours.got == [signal.SIGUSR2]
        task.cancel()
        loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
    finally:
        loop.close()  # also drops the subscription left behind


@pytest.mark.parametrize("kind", LOOP_KINDS)
def test_closing_an_aioipc_loop_restores_everything(kind: str) -> None:
    before = signal.getsignal(signal.SIGUSR1)
    loop = aioipc.new_event_loop(kind)  # type: ignore[arg-type]
    rec = Recorder()

    async def main() -> aioipc.SignalHandle:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, rec, 0)
        handle = aioipc.on_signal(signal.SIGUSR1, rec)
        raise_self(signal.SIGUSR1)
        await rec.wait(2)
        return handle

    try:
        handle = loop.run_until_complete(main())
        assert signal.getsignal(signal.SIGUSR1) != before
    finally:
        loop.close()
    assert not handle.active
    assert signal.getsignal(signal.SIGUSR1) == before


@pytest.mark.parametrize("kind", LOOP_KINDS)
def test_remove_after_the_loop_stopped_restores(kind: str) -> None:
    # uvloop's own remove_signal_handler does nothing when the loop is not running.
    before = signal.getsignal(signal.SIGHUP)
    loop = aioipc.new_event_loop(kind)  # type: ignore[arg-type]
    try:
        handle = loop.run_until_complete(_subscribe_and_return(signal.SIGHUP))
        assert signal.getsignal(signal.SIGHUP) != before
        handle.remove()
        assert signal.getsignal(signal.SIGHUP) == before
    finally:
        loop.close()


async def _subscribe_and_return(sig: int) -> aioipc.SignalHandle:
    return aioipc.on_signal(sig, lambda signum: None)


@pytest.mark.parametrize("kind", LOOP_KINDS)
def test_subscribe_before_the_loop_runs(kind: str) -> None:
    loop = aioipc.new_event_loop(kind)  # type: ignore[arg-type]
    rec = Recorder()
    try:
        with aioipc.on_signal(signal.SIGUSR1, rec, loop=loop):
            raise_self(signal.SIGUSR1)  # noted now, delivered once the loop runs
            assert rec.got == []
            assert loop.run_until_complete(rec.wait()) == [signal.SIGUSR1]
    finally:
        loop.close()


# ----------------------------------------------------------------- foreign loops


def _foreign_loop(kind: str) -> asyncio.AbstractEventLoop:
    return asyncio.new_event_loop() if kind == "asyncio" else uvloop.new_event_loop()


def test_foreign_asyncio_loop_chains_the_handler_that_was_there_first() -> None:
    before = signal.getsignal(signal.SIGUSR1)
    loop = asyncio.new_event_loop()

    async def main() -> None:
        app, ours = Recorder(), Recorder()
        loop.add_signal_handler(signal.SIGUSR1, app, signal.SIGUSR1)
        asyncio_noop = signal.getsignal(signal.SIGUSR1)
        with aioipc.on_signal(signal.SIGUSR1, ours):
            raise_self(signal.SIGUSR1)
            await app.wait()
            await ours.wait()
        # aioipc left: the loop has the app's handler back.
        assert signal.getsignal(signal.SIGUSR1) == asyncio_noop
        raise_self(signal.SIGUSR1)
        await app.wait(2)
        assert len(ours.got) == 1
        assert loop.remove_signal_handler(signal.SIGUSR1)

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert signal.getsignal(signal.SIGUSR1) == before


def test_foreign_asyncio_loop_app_handler_installed_later_replaces_aioipc() -> None:
    # Documented limitation: aioipc does not own a foreign loop's add_signal_handler.
    before = signal.getsignal(signal.SIGUSR1)
    loop = asyncio.new_event_loop()

    async def main() -> None:
        app, ours = Recorder(), Recorder()
        handle = aioipc.on_signal(signal.SIGUSR1, ours)
        loop.add_signal_handler(signal.SIGUSR1, app, signal.SIGUSR1)
        raise_self(signal.SIGUSR1)
        await app.wait()
        assert ours.got == []
        handle.remove()  # sees it was replaced and leaves the app's handler alone
        raise_self(signal.SIGUSR1)
        await app.wait(2)
        assert loop.remove_signal_handler(signal.SIGUSR1)

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert signal.getsignal(signal.SIGUSR1) == before


def test_foreign_uvloop_restores_even_when_uvloop_would_not() -> None:
    before = signal.getsignal(signal.SIGUSR2)
    loop = uvloop.new_event_loop()
    ours = Recorder()

    async def main() -> aioipc.SignalHandle:
        handle = aioipc.on_signal(signal.SIGUSR2, ours)
        raise_self(signal.SIGUSR2)
        await ours.wait()
        return handle

    try:
        handle = loop.run_until_complete(main())
        handle.remove()  # the loop is not running: uvloop's remove is a no-op here
        assert signal.getsignal(signal.SIGUSR2) == before
    finally:
        loop.close()
    assert signal.getsignal(signal.SIGUSR2) == before


def test_uvloop_itself_leaves_its_handler_when_not_running() -> None:
    """The uvloop behaviour the hub works around (a canary: if uvloop changes, the
    workaround in SignalHub._uninstall is still harmless)."""
    before = signal.getsignal(signal.SIGUSR2)
    loop = uvloop.new_event_loop()

    async def add() -> None:
        loop.add_signal_handler(signal.SIGUSR2, print)

    try:
        loop.run_until_complete(add())
        removed = loop.remove_signal_handler(signal.SIGUSR2)
        leftover = signal.getsignal(signal.SIGUSR2)
    finally:
        loop.close()
        signal.signal(signal.SIGUSR2, before)
    assert removed is False
    assert getattr(leftover, "__self__", None) is loop


def test_foreign_uvloop_app_handler_cannot_be_seen(caplog: pytest.LogCaptureFixture) -> None:
    # Documented limitation: on a uvloop loop aioipc did not create, a handler installed
    # before aioipc is replaced (with a warning); one installed after replaces aioipc's,
    # and aioipc's leaving removes it.
    before = signal.getsignal(signal.SIGUSR1)
    loop = uvloop.new_event_loop()

    async def main() -> None:
        app, ours = Recorder(), Recorder()
        loop.add_signal_handler(signal.SIGUSR1, app, signal.SIGUSR1)
        with aioipc.on_signal(signal.SIGUSR1, ours):
            raise_self(signal.SIGUSR1)
            await ours.wait()
        assert app.got == []
        assert signal.getsignal(signal.SIGUSR1) == before
        assert loop.remove_signal_handler(signal.SIGUSR1) is False  # it is gone

        handle = aioipc.on_signal(signal.SIGUSR1, ours)
        loop.add_signal_handler(signal.SIGUSR1, app, signal.SIGUSR1)
        raise_self(signal.SIGUSR1)
        await app.wait()
        assert len(ours.got) == 1
        handle.remove()
        assert loop.remove_signal_handler(signal.SIGUSR1) is False  # removed with aioipc's

    with caplog.at_level(logging.WARNING, logger="aioipc.signals"):
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()
    assert any("cannot see a uvloop loop's handlers" in r.getMessage() for r in caplog.records)
    assert signal.getsignal(signal.SIGUSR1) == before


def test_two_loops_hand_the_signal_back_in_order(caplog: pytest.LogCaptureFixture) -> None:
    before = signal.getsignal(signal.SIGUSR1)
    first, second = aioipc.new_event_loop("asyncio"), aioipc.new_event_loop("uvloop")
    try:
        h1 = aioipc.on_signal(signal.SIGUSR1, print, loop=first)
        first_handler = signal.getsignal(signal.SIGUSR1)
        with caplog.at_level(logging.WARNING, logger="aioipc.signals"):
            h2 = aioipc.on_signal(signal.SIGUSR1, print, loop=second)
        assert any("another event loop" in r.getMessage() for r in caplog.records)
        h2.remove()
        assert signal.getsignal(signal.SIGUSR1) == first_handler
        h1.remove()
    finally:
        first.close()
        second.close()
    assert signal.getsignal(signal.SIGUSR1) == before


# ------------------------------------------------------------------------ streams


async def test_stream_receives_from_self_and_child() -> None:
    async with aioipc.open_signal_stream(signal.SIGUSR1, "HUP") as stream:
        assert stream.signals == {signal.SIGUSR1, signal.SIGHUP}
        raise_self(signal.SIGHUP)
        async with asyncio.timeout(10):
            assert await stream.receive() == signal.SIGHUP
            await run_perl("kill USR1 => getppid")
            assert await stream.receive() == signal.SIGUSR1
    assert stream.closed


async def test_stream_async_for() -> None:
    got: list[int] = []
    async with aioipc.open_signal_stream(signal.SIGUSR1, signal.SIGUSR2) as stream:
        raise_self(signal.SIGUSR1)
        async with asyncio.timeout(10):
            async for signum in stream:
                got.append(signum)
                if signum == signal.SIGUSR2:
                    break
                raise_self(signal.SIGUSR2)
    assert got == [signal.SIGUSR1, signal.SIGUSR2]


async def test_stream_coalesces_repeats_in_order_of_first_arrival() -> None:
    marker = Recorder()
    async with aioipc.open_signal_stream(signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP) as stream:
        with aioipc.on_signal(signal.SIGWINCH, marker):
            for sig in (
                signal.SIGUSR2,
                signal.SIGUSR1,
                signal.SIGUSR2,
                signal.SIGHUP,
                signal.SIGHUP,
            ):
                raise_self(sig)
            raise_self(signal.SIGWINCH)
            await marker.wait()
        assert stream.pending() == (signal.SIGUSR2, signal.SIGUSR1, signal.SIGHUP)
        assert stream.coalesced == 2
        async with asyncio.timeout(10):
            assert [await stream.receive() for _ in range(3)] == [
                signal.SIGUSR2,
                signal.SIGUSR1,
                signal.SIGHUP,
            ]
        # Once received, a signal can be pending again.
        raise_self(signal.SIGUSR1)
        async with asyncio.timeout(10):
            assert await stream.receive() == signal.SIGUSR1


async def test_stream_and_on_signal_together() -> None:
    rec = Recorder()
    with aioipc.on_signal(signal.SIGUSR1, rec):
        async with aioipc.open_signal_stream(signal.SIGUSR1) as stream:
            raise_self(signal.SIGUSR1)
            async with asyncio.timeout(10):
                assert await stream.receive() == signal.SIGUSR1
            await rec.wait()
        raise_self(signal.SIGUSR1)  # the stream left; the callback stays
        await rec.wait(2)


async def test_stream_closed_while_waiting_and_after() -> None:
    async with aioipc.open_signal_stream(signal.SIGUSR1) as stream:
        waiter = asyncio.create_task(stream.receive())
        await asyncio.sleep(0)  # let it start waiting
        assert len(stream._waiters) == 1
        await stream.aclose()
        with pytest.raises(anyio.ClosedResourceError):
            await waiter
    with pytest.raises(anyio.ClosedResourceError):
        await stream.receive()


async def test_cancelled_receive_loses_nothing() -> None:
    marker = Recorder()
    async with aioipc.open_signal_stream(signal.SIGUSR1) as stream:
        waiter = asyncio.create_task(stream.receive())
        await asyncio.sleep(0)  # let it start waiting
        assert len(stream._waiters) == 1
        with aioipc.on_signal(signal.SIGUSR1, marker):
            raise_self(signal.SIGUSR1)
            waiter.cancel()  # cancelled before the loop delivers the signal
            await marker.wait()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        async with asyncio.timeout(10):
            assert await stream.receive() == signal.SIGUSR1


async def test_flood_from_self_coalesces_and_loop_stays_responsive() -> None:
    counted = Recorder()
    marker = Recorder()
    ticks = 0

    def tick() -> None:
        nonlocal ticks
        ticks += 1

    async with aioipc.open_signal_stream(signal.SIGUSR1) as stream:
        with aioipc.on_signal(signal.SIGUSR1, counted), aioipc.on_signal(signal.SIGUSR2, marker):
            for _ in range(10_000):
                os.kill(os.getpid(), signal.SIGUSR1)
            os.kill(os.getpid(), signal.SIGUSR2)  # not lost behind the flood
            await marker.wait()
            asyncio.get_running_loop().call_soon(tick)
            await asyncio.sleep(0)
            assert ticks == 1
        # Every delivery reached the callback; the stream kept one entry for them all.
        assert 1 <= len(counted.got) <= 10_000
        assert stream.pending() == (signal.SIGUSR1,)
        assert stream.coalesced == len(counted.got) - 1


async def test_flood_from_a_child() -> None:
    counted = Recorder()
    marker = Recorder()
    async with aioipc.open_signal_stream(signal.SIGUSR1) as stream:
        with aioipc.on_signal(signal.SIGUSR1, counted), aioipc.on_signal(signal.SIGUSR2, marker):
            await run_perl(
                "my $p = getppid; kill USR1 => $p for 1..10000; kill USR2 => $p; print qq(sent\\n)"
            )
            await marker.wait()
            # The loop still answers: a fresh signal round trip.
            raise_self(signal.SIGUSR2)
            await marker.wait(2)
        assert counted.got, "the flood was not seen at all"
        assert stream.coalesced == len(counted.got) - 1
        async with asyncio.timeout(10):
            assert await stream.receive() == signal.SIGUSR1


# ------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("sig", "message"),
    [
        (signal.SIGKILL, "SIGKILL cannot be caught"),
        (signal.SIGSTOP, "SIGSTOP cannot be caught"),
        ("KILL", "SIGKILL cannot be caught"),
        ("NOSUCHSIG", "'NOSUCHSIG'"),
        (signal.SIGCHLD, "SIGCHLD belongs to the event loop"),
        (signal.SIGSEGV, "synchronous fault"),
    ],
)
async def test_refused_signals(sig: int | str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        aioipc.on_signal(sig, print)
    with pytest.raises(ValueError, match=message):
        aioipc.open_signal_stream(sig)


async def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="callable"):
        aioipc.on_signal(signal.SIGUSR1, "print")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        aioipc.open_signal_stream()


def test_on_signal_needs_a_loop() -> None:
    with pytest.raises(RuntimeError, match="needs an event loop"):
        aioipc.on_signal(signal.SIGUSR1, print)


def test_on_signal_on_a_closed_loop() -> None:
    loop = aioipc.new_event_loop("asyncio")
    loop.close()
    with pytest.raises(RuntimeError, match="closed"):
        aioipc.on_signal(signal.SIGUSR1, print, loop=loop)


def _in_thread(func: Callable[[], object]) -> BaseException | None:
    caught: list[BaseException] = []

    def run() -> None:
        try:
            func()
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return caught[0] if caught else None


async def test_off_the_main_thread() -> None:
    loop = asyncio.get_running_loop()
    attempts: dict[str, Callable[[], object]] = {
        "on_signal()": lambda: aioipc.on_signal(signal.SIGUSR1, print, loop=loop),
        "open_signal_stream()": lambda: aioipc.open_signal_stream(signal.SIGUSR1),
        "ignore_signals()": lambda: aioipc.ignore_signals(signal.SIGUSR1),
    }
    for what, attempt in attempts.items():
        exc = _in_thread(attempt)
        assert isinstance(exc, aioipc.NotMainThreadError), what
        assert isinstance(exc, RuntimeError)
        assert what in str(exc)
        assert "main thread" in str(exc)
    with aioipc.on_signal(signal.SIGUSR1, print) as handle:
        exc = _in_thread(handle.remove)
        assert isinstance(exc, aioipc.NotMainThreadError)
        assert handle.active


# ----------------------------------------------------------------- ignore_signals


def _py_handler(signum: int, frame: object) -> None:
    raise AssertionError("an ignored signal was delivered")


def test_ignore_signals_nests_and_restores_exactly() -> None:
    before_hup = signal.getsignal(signal.SIGHUP)
    previous = signal.signal(signal.SIGUSR1, _py_handler)
    try:
        with aioipc.ignore_signals(signal.SIGHUP):
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            with aioipc.ignore_signals("HUP", "USR1"):
                assert signal.getsignal(signal.SIGUSR1) == signal.SIG_IGN
                raise_self(signal.SIGUSR1)  # discarded by the kernel
                raise_self(signal.SIGHUP)
            # The inner exit restored the outer block's state.
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            assert signal.getsignal(signal.SIGUSR1) is _py_handler
        assert signal.getsignal(signal.SIGHUP) == before_hup
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_ignore_signals_restores_on_error() -> None:
    before = signal.getsignal(signal.SIGUSR2)
    with pytest.raises(KeyError), aioipc.ignore_signals(signal.SIGUSR2):
        raise KeyError("boom")
    assert signal.getsignal(signal.SIGUSR2) == before


def test_ignore_signals_left_out_of_order() -> None:
    before = signal.getsignal(signal.SIGUSR2)
    outer = aioipc.ignore_signals(signal.SIGUSR2)
    inner = aioipc.ignore_signals(signal.SIGUSR2)
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)  # as two interleaved tasks might
    assert signal.getsignal(signal.SIGUSR2) == signal.SIG_IGN
    inner.__exit__(None, None, None)
    assert signal.getsignal(signal.SIGUSR2) == before


@pytest.mark.parametrize(
    ("sig", "message"),
    [(signal.SIGKILL, "cannot be caught"), (signal.SIGCHLD, "reap"), ("NOPE", "'NOPE'")],
)
def test_ignore_signals_refuses(sig: int | str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        aioipc.ignore_signals(sig)


async def test_ignore_signals_really_ignores_a_hub_signal() -> None:
    ours, marker = Recorder(), Recorder()
    with aioipc.on_signal(signal.SIGUSR1, ours), aioipc.on_signal(signal.SIGUSR2, marker):
        hub_handler = signal.getsignal(signal.SIGUSR1)
        with aioipc.ignore_signals(signal.SIGUSR1):
            assert signal.getsignal(signal.SIGUSR1) == signal.SIG_IGN
            raise_self(signal.SIGUSR1)
            raise_self(signal.SIGUSR2)
            await marker.wait()
        assert ours.got == []  # the kernel discarded it: not delivered late either
        assert signal.getsignal(signal.SIGUSR1) == hub_handler
        raise_self(signal.SIGUSR1)
        await ours.wait()


async def test_subscribing_and_leaving_inside_ignore_signals() -> None:
    before = signal.getsignal(signal.SIGUSR1)
    ours, marker = Recorder(), Recorder()
    with aioipc.on_signal(signal.SIGUSR2, marker):
        with aioipc.ignore_signals(signal.SIGUSR1):
            handle = aioipc.on_signal(signal.SIGUSR1, ours)
            assert signal.getsignal(signal.SIGUSR1) == signal.SIG_IGN
            raise_self(signal.SIGUSR1)
            raise_self(signal.SIGUSR2)
            await marker.wait()
        assert ours.got == []
        raise_self(signal.SIGUSR1)  # the block's exit brought the hub's handler in
        await ours.wait()
        with aioipc.ignore_signals(signal.SIGUSR1):
            handle.remove()
            assert signal.getsignal(signal.SIGUSR1) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGUSR1) == before


# ------------------------------------------------------- kill, kill_group, is_alive


def test_is_alive_on_self_and_pid_1() -> None:
    assert aioipc.is_alive(os.getpid()) is True
    assert aioipc.is_alive(1) is True  # EPERM counts as alive; as root it just succeeds


def test_is_alive_counts_a_zombie_and_not_a_reaped_child() -> None:
    pid = os.posix_spawn("/bin/true", ["true"], dict(os.environ))
    try:
        # Wait until it has exited, without reaping it: now it is a zombie.
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        assert aioipc.is_alive(pid) is True
    finally:
        os.waitpid(pid, 0)
    assert aioipc.is_alive(pid) is False


async def test_is_alive_and_kill_a_child() -> None:
    proc = await asyncio.create_subprocess_exec(
        PERL, "-e", '$| = 1; print "READY\\n"; sleep 1 while 1', stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    async with asyncio.timeout(10):
        assert await proc.stdout.readline() == b"READY\n"
        assert aioipc.is_alive(proc.pid)
        aioipc.kill(proc.pid, "TERM")
        assert await proc.wait() == -signal.SIGTERM
    assert aioipc.is_alive(proc.pid) is False
    with pytest.raises(ProcessLookupError):
        aioipc.kill(proc.pid, signal.SIGTERM)


GROUP_CHILD = r"""
$| = 1;
my $kid;
$SIG{USR1} = sub { waitpid($kid, 0) if $kid; print "got USR1\n"; exit 0 };
$kid = fork() // die "fork: $!";
print "READY\n" if $kid;
sleep 1 while 1;
"""


async def test_kill_group_reaches_every_process_in_the_group() -> None:
    proc = await asyncio.create_subprocess_exec(
        PERL, "-e", GROUP_CHILD, stdout=asyncio.subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout is not None
    async with asyncio.timeout(10):
        assert await proc.stdout.readline() == b"READY\n"
        aioipc.kill_group(proc.pid, "USR1")  # the child leads its own group
        out = await proc.stdout.read()
        assert await proc.wait() == 0
    assert out.splitlines() == [b"got USR1", b"got USR1"]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: aioipc.kill(0, signal.SIGTERM), ValueError, "kill_group"),
        (lambda: aioipc.kill(-1, signal.SIGTERM), ValueError, "every process"),
        (lambda: aioipc.kill(True, signal.SIGTERM), TypeError, "pid"),
        (lambda: aioipc.kill("1", signal.SIGTERM), TypeError, "pid"),
        (lambda: aioipc.kill(os.getpid(), "NOPE"), ValueError, "'NOPE'"),
        (lambda: aioipc.kill_group(1, signal.SIGHUP), ValueError, r"kill\(-1"),
        (lambda: aioipc.kill_group(-5, signal.SIGHUP), ValueError, "pgid"),
        (lambda: aioipc.kill_group(2.0, signal.SIGHUP), TypeError, "pgid"),
        (lambda: aioipc.is_alive(0), ValueError, "pid"),
        (lambda: aioipc.is_alive(-3), ValueError, "pid"),
    ],
)
def test_kill_argument_checks(
    call: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()


def test_kill_with_signal_zero_checks_only() -> None:
    aioipc.kill(os.getpid(), 0)  # delivers nothing: this process is still here
    assert aioipc.is_alive(os.getpid())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))


# ------------------------------------------------------------ delivery without a loop trip


async def test_a_signal_that_arrives_while_the_consumer_runs_is_taken_at_once() -> None:
    loop = asyncio.get_running_loop()
    seen_by_callback: list[int] = []
    with aioipc.on_signal(signal.SIGUSR1, seen_by_callback.append):
        async with aioipc.open_signal_stream(signal.SIGUSR1) as stream:
            loop_ran: list[bool] = []
            loop.call_soon(loop_ran.append, True)
            # The Python-level handler runs in this task's frame and only counts it.
            os.kill(os.getpid(), signal.SIGUSR1)
            assert await stream.receive() == signal.SIGUSR1
            # Delivered from this task, before the loop ran anything else -- to every
            # subscriber, as the loop's drain would have done.
            assert loop_ran == []
            assert seen_by_callback == [signal.SIGUSR1]
            await asyncio.sleep(0)
            assert loop_ran == [True]
            assert seen_by_callback == [signal.SIGUSR1]  # and only once


SYSTEM_EXIT_FROM_A_SUBSCRIBER = """
import asyncio, os, signal, sys
import aioipc

def leave(signum):
    raise SystemExit(7)

async def main():
    with aioipc.on_signal(signal.SIGUSR1, leave):
        async with aioipc.open_signal_stream(signal.SIGUSR1) as stream:
            os.kill(os.getpid(), signal.SIGUSR1)
            try:
                await stream.receive()
            except BaseException as exc:
                print("the consumer got", type(exc).__name__, flush=True)
                raise
            print("the consumer got the signal", flush=True)
            await asyncio.sleep(5)
            print("the loop went on", flush=True)

aioipc.run(main(), loop=sys.argv[1])
"""


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_system_exit_from_another_subscriber_leaves_the_loop_not_the_consumer(
    loop_name: str,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SYSTEM_EXIT_FROM_A_SUBSCRIBER, loop_name],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 7, done.stderr
    assert done.stdout.splitlines() == ["the consumer got the signal"]


SIGNALS_WHILE_IDLE = """
import asyncio, os, signal, subprocess, sys
import aioipc

COUNT = 200

async def main():
    called = []
    ack_r, ack_w = os.pipe()
    with aioipc.on_signal(signal.SIGUSR1, called.append):
        async with aioipc.open_signal_stream(signal.SIGUSR1) as stream:
            sender = subprocess.Popen(
                [sys.executable, "-c",
                 "import os, signal, sys\\n"
                 "for _ in range(%d):\\n"
                 "    os.kill(os.getppid(), signal.SIGUSR1)\\n"
                 "    os.read(int(sys.argv[1]), 1)\\n" % COUNT, str(ack_r)],
                pass_fds=[ack_r],
            )
            received = 0
            async for signum in stream:
                assert signum == signal.SIGUSR1
                received += 1
                assert len(called) == received  # the callback got each one first
                os.write(ack_w, b"a")
                if received == COUNT:
                    break
            sender.wait()
    print(received, len(called), flush=True)

aioipc.run(main(), loop=sys.argv[1])
"""


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_signals_reaching_an_idle_loop_under_a_runner_are_all_delivered_in_order(
    loop_name: str,
) -> None:
    # Under aioipc.run (asyncio.Runner) the hub's handler drains at once when it finds
    # the loop idle -- in asyncio's selector, or below uvloop's C loop: every signal
    # still reaches every subscriber once, the callback before the stream.
    done = subprocess.run(
        [sys.executable, "-c", SIGNALS_WHILE_IDLE, loop_name],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", "200"]
