"""open_datagram(): real UDP and Unix datagram sockets, a real perl peer, on both loops."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import stat
import threading
import uuid
from pathlib import Path

import anyio
import pytest

import aioipc

PERL_DIR = Path(__file__).resolve().parent / "interop" / "perl"
needs_perl = pytest.mark.skipif(shutil.which("perl") is None, reason="needs perl")


def _ipv6_loopback_problem() -> str | None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError as error:
        return f"the kernel has no IPv6 on the loopback interface (bind ::1: {error})"
    return None


def _abstract() -> str:
    return f"unixgram:@aioipc-test-{os.getpid()}-{uuid.uuid4().hex}"


def _address(kind: str, tmp_path: Path) -> str:
    if kind == "ipv6" and (problem := _ipv6_loopback_problem()):
        pytest.skip(problem)
    return {
        "ipv4": "udp://127.0.0.1:0",
        "ipv6": "udp://[::1]:0",
        "unix": f"unixgram:{tmp_path}/d.sock",
        "abstract": _abstract(),
    }[kind]


KINDS = ["ipv4", "ipv6", "unix", "abstract"]


# Sending and receiving on every kind of address


@pytest.mark.parametrize("kind", KINDS)
async def test_unconnected_sockets_exchange_datagrams(tmp_path: Path, kind: str) -> None:
    address = _address(kind, tmp_path)
    other = _address(kind, tmp_path).replace("d.sock", "e.sock")
    async with (
        aioipc.open_datagram(address) as server,
        aioipc.open_datagram(other) as client,
    ):
        assert server.remote_address is None
        if kind in ("ipv4", "ipv6"):
            assert server.local_address.port != 0
        await client.send(b"ping", server.local_address)
        data, sender = await server.receive()
        assert data == b"ping"
        await server.send(b"pong", sender)  # the raw address goes straight back
        data, replier = await client.receive()
        assert data == b"pong"
        assert replier == _peer(server)
        # A datagram keeps its boundaries: two sends are two receives.
        await client.send(b"one", str(server.local_address))
        await client.send(b"two", str(server.local_address))
        assert [(await server.receive())[0] for _ in range(2)] == [b"one", b"two"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_socket_with_only_a_remote_can_send_and_get_replies(
    tmp_path: Path, kind: str
) -> None:
    address = _address(kind, tmp_path)
    async with (
        aioipc.open_datagram(address) as server,
        aioipc.open_datagram(remote=server.local_address) as client,
    ):
        assert client.remote_address == server.local_address
        if kind in ("unix", "abstract"):
            # Linux autobind gave the client a name, so that replies can come back.
            assert client.local_address.is_abstract
        await client.send(b"question")
        data, sender = await server.receive()
        assert data == b"question"
        assert sender is not None
        await server.send(b"answer", sender)
        assert await client.receive() == (b"answer", _peer(server))


def _peer(server: aioipc.DatagramSocket) -> object:
    """The raw socket address the kernel reports for ``server`` as a sender."""
    local = server.local_address
    if local.is_unix:
        assert local.path is not None
        return local.path.encode() if local.is_abstract else local.path
    if local.host is not None and ":" in local.host:
        return (local.host, local.port, 0, 0)
    return (local.host, local.port)


async def test_addresses_can_be_strings_address_objects_or_raw_tuples() -> None:
    async with (
        aioipc.open_datagram("udp://127.0.0.1:0") as server,
        aioipc.open_datagram("udp://127.0.0.1:0") as client,
    ):
        bound = server.local_address
        for destination in (str(bound), bound, (bound.host, bound.port)):
            await client.send(b"x", destination)
            data, _ = await server.receive()
            assert data == b"x"


async def test_a_host_name_is_resolved_through_the_loop() -> None:
    async with (
        aioipc.open_datagram("udp://127.0.0.1:0") as server,
        aioipc.open_datagram("udp://127.0.0.1:0") as client,
    ):
        await client.send(b"by name", f"udp://localhost:{server.local_address.port}")
        assert (await server.receive())[0] == b"by name"


async def test_connect_with_a_local_address_too() -> None:
    async with (
        aioipc.open_datagram("udp://127.0.0.1:0") as server,
        aioipc.open_datagram("udp://127.0.0.1:0", remote=server.local_address) as client,
    ):
        await client.send(b"hi")
        _, sender = await server.receive()
        assert sender == (client.local_address.host, client.local_address.port)


async def test_both_await_and_async_with_await_work() -> None:
    sock = await aioipc.open_datagram("udp://127.0.0.1:0")
    try:
        assert "udp://127.0.0.1:" in repr(sock)
    finally:
        await sock.aclose()
    assert sock.closed
    async with await aioipc.open_datagram("udp://127.0.0.1:0") as again:
        assert "closed" not in repr(again)
    assert again.closed


async def test_empty_datagrams_are_datagrams() -> None:
    async with (
        aioipc.open_datagram("udp://127.0.0.1:0") as server,
        aioipc.open_datagram(remote=server.local_address) as client,
    ):
        await client.send(b"")
        assert (await server.receive())[0] == b""


# Async iteration, several receivers, closing


async def test_async_iteration_yields_datagrams_and_ends_when_closed() -> None:
    async with (
        aioipc.open_datagram("udp://127.0.0.1:0") as server,
        aioipc.open_datagram(remote=server.local_address) as client,
    ):
        for word in (b"a", b"b", b"c"):
            await client.send(word)
        seen: list[bytes] = []
        async for data, sender in server:
            assert sender == (client.local_address.host, client.local_address.port)
            seen.append(data)
            if len(seen) == 3:
                await server.aclose()  # ends the iteration, not with an error
        assert seen == [b"a", b"b", b"c"]


async def test_closing_wakes_a_waiting_receiver_with_closed_resource_error() -> None:
    sock = await aioipc.open_datagram("udp://127.0.0.1:0")
    waiting = asyncio.create_task(sock.receive())
    await asyncio.sleep(0)  # a scheduling yield: let the task reach its wait
    await sock.aclose()
    with pytest.raises(anyio.ClosedResourceError):
        await waiting
    with pytest.raises(anyio.ClosedResourceError):
        await sock.receive()
    with pytest.raises(anyio.ClosedResourceError):
        await sock.send(b"late", "udp://127.0.0.1:9")
    with pytest.raises(anyio.ClosedResourceError):
        sock.fileno()
    await sock.aclose()  # twice is fine


async def test_several_receivers_share_the_datagrams() -> None:
    async with (
        aioipc.open_datagram(_abstract()) as server,
        aioipc.open_datagram(remote=server.local_address) as client,
    ):
        receivers = [asyncio.create_task(server.receive()) for _ in range(3)]
        for word in (b"1", b"2", b"3"):
            await client.send(word)
        results = await asyncio.gather(*receivers)
        assert sorted(data for data, _ in results) == [b"1", b"2", b"3"]


# Sizes: too large to send, too large to receive


@pytest.mark.parametrize("kind", KINDS)
async def test_an_oversized_datagram_raises_naming_size_and_limit(
    tmp_path: Path, kind: str
) -> None:
    # max_size lets a Unix datagram of the full send limit come back whole.
    async with aioipc.open_datagram(_address(kind, tmp_path), max_size=1 << 20) as sock:
        if kind == "ipv4":
            limit = 65507
        elif kind == "ipv6":
            limit = 65527
        else:
            with socket.socket(fileno=os.dup(sock.fileno())) as probe:
                limit = probe.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) - 32
        with pytest.raises(aioipc.DatagramTooLarge) as caught:
            await sock.send(bytes(limit + 1), sock.local_address)
        assert caught.value.size == limit + 1
        assert caught.value.limit == limit
        assert f"{limit + 1} bytes" in str(caught.value)
        assert f"limit is {limit} bytes" in str(caught.value)
        assert isinstance(caught.value, ValueError)
        assert isinstance(caught.value, aioipc.IPCError)
        # The socket is still usable, and exactly the limit goes through.
        await sock.send(bytes(limit), sock.local_address)
        data, _ = await sock.receive()
        assert len(data) == limit


async def test_a_datagram_larger_than_max_size_is_reported_not_cut() -> None:
    async with aioipc.open_datagram("udp://127.0.0.1:0", max_size=16) as server:
        assert server.max_size == 16
        async with aioipc.open_datagram(remote=server.local_address) as client:
            await client.send(b"A" * 100)
            await client.send(b"small")
            with pytest.raises(aioipc.DatagramTruncated) as caught:
                await server.receive()
            assert caught.value.size == 100
            assert caught.value.limit == 16
            assert caught.value.data == b"A" * 16
            assert caught.value.address == (
                client.local_address.host,
                client.local_address.port,
            )
            assert "100 bytes" in str(caught.value)
            assert "max_size=16" in str(caught.value)
            # The next datagram is whole: nothing of the big one leaks into it.
            assert (await server.receive())[0] == b"small"


async def test_a_unix_datagram_larger_than_the_default_max_size_is_reported() -> None:
    async with (
        aioipc.open_datagram(_abstract()) as server,
        aioipc.open_datagram(remote=server.local_address) as client,
    ):
        await client.send(bytes(100_000))
        with pytest.raises(aioipc.DatagramTruncated) as caught:
            await server.receive()
        assert (caught.value.size, caught.value.limit) == (100_000, 65536)
        async with (
            aioipc.open_datagram(_abstract(), max_size=100_000) as roomy,
            aioipc.open_datagram(remote=roomy.local_address) as client,
        ):
            await client.send(bytes(100_000))
            assert len((await roomy.receive())[0]) == 100_000


# Cancellation and back-pressure


async def test_a_cancelled_receive_takes_nothing() -> None:
    async with (
        aioipc.open_datagram("udp://127.0.0.1:0") as server,
        aioipc.open_datagram(remote=server.local_address) as client,
    ):
        waiting = asyncio.create_task(server.receive())
        await asyncio.sleep(0)  # a scheduling yield: let the task reach its wait
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await client.send(b"kept")
        assert (await server.receive())[0] == b"kept"


async def test_cancellation_at_any_point_loses_no_datagram() -> None:
    # Unix datagrams have flow control (a full receiver makes the sender wait), so
    # the kernel drops nothing and every loss would be aioipc's.  Receives are
    # cancelled after 0-3 scheduling yields, landing before, during and after a
    # datagram is handed over; whatever the interleaving, all must arrive in order.
    count = 300
    async with (
        aioipc.open_datagram(_abstract()) as server,
        aioipc.open_datagram(remote=server.local_address) as client,
    ):

        async def sender() -> None:
            for number in range(count):
                await client.send(b"%d" % number)

        sending = asyncio.create_task(sender())
        received: list[bytes] = []
        for attempt in range(4 * count):
            if len(received) == count:
                break
            task = asyncio.create_task(server.receive())
            for _ in range(attempt % 4):
                await asyncio.sleep(0)
            task.cancel()
            try:
                data, _ = await task
            except asyncio.CancelledError:
                continue
            received.append(data)
        while len(received) < count:
            received.append((await server.receive())[0])
        await sending
    assert received == [b"%d" % number for number in range(count)]


async def test_a_unix_sender_waits_for_a_full_receiver_and_loses_nothing() -> None:
    # More datagrams than the receiver's kernel queue (net.unix.max_dgram_qlen) and
    # aioipc's read-ahead together: an unconnected sender must wait, not fail.
    count = 200
    async with (
        aioipc.open_datagram(_abstract()) as server,
        aioipc.open_datagram(_abstract()) as client,
    ):

        async def sender() -> None:
            for number in range(count):
                await client.send(b"%d" % number, server.local_address)

        sending = asyncio.create_task(sender())
        received = [(await server.receive())[0] for _ in range(count)]
        await sending
    assert received == [b"%d" % number for number in range(count)]


async def test_several_senders_waiting_on_a_full_unix_peer_all_get_through() -> None:
    # A connected Unix socket waits for "writable"; every waiting sender must be woken.
    async with (
        aioipc.open_datagram(_abstract()) as server,
        aioipc.open_datagram(remote=server.local_address) as client,
    ):

        async def sender(name: bytes) -> None:
            for number in range(40):
                await client.send(b"%s%d" % (name, number))

        senders = [asyncio.create_task(sender(name)) for name in (b"a", b"b", b"c")]
        received = {(await server.receive())[0] for _ in range(120)}
        await asyncio.gather(*senders)
    assert received == {b"%s%d" % (name, n) for name in (b"a", b"b", b"c") for n in range(40)}


async def test_closing_wakes_a_sender_waiting_for_room() -> None:
    async with aioipc.open_datagram(_abstract()) as server:
        client = await aioipc.open_datagram(remote=server.local_address)

        async def flood() -> None:
            # The server never reads: far more than its kernel queue can hold.
            for _ in range(100_000):
                await client.send(b"x")

        flooding = asyncio.create_task(flood())
        for _ in range(20):
            await asyncio.sleep(0)  # scheduling yields; the outcome is the same either way
        await client.aclose()
        with pytest.raises(anyio.ClosedResourceError):
            await flooding


# Refusals: ICMP port unreachable, a vanished Unix peer


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_port_unreachable_is_raised_by_the_next_receive_or_send() -> None:
    port = _free_udp_port()
    async with aioipc.open_datagram(remote=f"udp://127.0.0.1:{port}") as client:
        await client.send(b"anyone?")
        with pytest.raises(ConnectionRefusedError, match="ICMP port unreachable") as caught:
            await client.receive()
        assert f"udp://127.0.0.1:{port}" in str(caught.value)
        # The error was reported once; the socket still works: the next refusal is
        # again an exception, never a crashed loop or a dead socket.
        await client.send(b"again?")
        with pytest.raises(ConnectionRefusedError):
            await _send_until_refused(client)


async def _send_until_refused(sock: aioipc.DatagramSocket) -> None:
    while True:
        await sock.send(b"and again?")
        await sock.receive()


async def test_sending_to_a_missing_unix_path_names_it(tmp_path: Path) -> None:
    async with aioipc.open_datagram(_abstract()) as sock:
        missing = f"unixgram:{tmp_path}/nobody"
        with pytest.raises(FileNotFoundError, match="nobody"):
            await sock.send(b"x", missing)


async def test_sending_to_a_closed_unix_peer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gone.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as gone:
        gone.bind(str(path))
    async with aioipc.open_datagram(_abstract()) as sock:
        with pytest.raises(ConnectionRefusedError, match=r"gone\.sock"):
            await sock.send(b"x", f"unixgram:{path}")
    path.unlink()


# Unix socket files


async def test_a_unixgram_path_is_0600_and_removed_on_close(tmp_path: Path) -> None:
    path = tmp_path / "d.sock"
    async with aioipc.open_datagram(f"unixgram:{path}") as sock:
        assert stat.S_IMODE(path.lstat().st_mode) == 0o600
        assert stat.S_ISSOCK(path.lstat().st_mode)
        assert sock.local_address == aioipc.Address("unixgram", path=str(path))
    assert not path.exists()
    async with aioipc.open_datagram(f"unixgram:{path}", unix_mode=0o660):
        assert stat.S_IMODE(path.lstat().st_mode) == 0o660


async def test_a_unixgram_path_replaced_by_someone_else_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "d.sock"
    async with aioipc.open_datagram(f"unixgram:{path}"):
        path.unlink()
        path.write_text("not ours")
    assert path.read_text() == "not ours"


async def test_a_stale_unixgram_file_is_replaced_and_a_live_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as old:
        old.bind(str(path))  # closed without unlinking: a leftover nobody answers on
    async with aioipc.open_datagram(f"unixgram:{path}") as live:
        with pytest.raises(FileExistsError):
            await aioipc.open_datagram(f"unixgram:{path}")
        assert live.local_address.path == str(path)
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError, match="not a socket"):
        await aioipc.open_datagram(f"unixgram:{tmp_path}/file")


async def test_a_unix_path_sender_is_reported_as_its_path(tmp_path: Path) -> None:
    async with (
        aioipc.open_datagram(f"unixgram:{tmp_path}/a") as a,
        aioipc.open_datagram(f"unixgram:{tmp_path}/b") as b,
    ):
        await a.send(b"hi", b.local_address)
        assert await b.receive() == (b"hi", f"{tmp_path}/a")
        sender = f"{tmp_path}/a"
        await b.send(b"back", sender)
        assert (await a.receive())[0] == b"back"


async def test_an_unnamed_unix_sender_is_reported_as_none() -> None:
    async with aioipc.open_datagram(_abstract()) as server:
        assert server.local_address.path is not None
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as anonymous:
            anonymous.sendto(b"who?", server.local_address.path)
        assert await server.receive() == (b"who?", None)


# Broadcast


async def test_broadcast_sets_so_broadcast() -> None:
    for wanted in (False, True):
        async with aioipc.open_datagram("udp://127.0.0.1:0", broadcast=wanted) as sock:
            with socket.socket(fileno=os.dup(sock.fileno())) as view:
                assert bool(view.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST)) is wanted
                # Never SO_REUSEADDR on UDP (cpython#81409).
                assert view.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 0


# A perl IO::Socket::INET peer


@needs_perl
async def test_aioipc_exchanges_a_datagram_with_a_perl_udp_server() -> None:
    async with aioipc.open_process(
        ["perl", str(PERL_DIR / "udp_echo_server.pl")], stdout=aioipc.PIPE, check=True
    ) as perl:
        assert perl.stdout is not None
        ready = await perl.stdout.readline()
        assert ready.startswith(b"READY ")
        port = int(ready.split()[1])
        async with aioipc.open_datagram(remote=f"udp://127.0.0.1:{port}") as sock:
            await sock.send(b"hello perl")
            assert await sock.receive() == (b"HELLO PERL", ("127.0.0.1", port))
        assert (await perl.wait()).success


@needs_perl
async def test_a_perl_udp_client_exchanges_a_datagram_with_aioipc() -> None:
    async with aioipc.open_datagram("udp://127.0.0.1:0") as server:
        port = server.local_address.port
        async with aioipc.open_process(
            ["perl", str(PERL_DIR / "udp_client.pl"), str(port), "hello aioipc"],
            stdout=aioipc.PIPE,
            check=True,
        ) as perl:
            assert perl.stdout is not None
            data, sender = await server.receive()
            assert data == b"hello aioipc"
            await server.send(data.upper(), sender)
            assert await perl.stdout.readline() == b"HELLO AIOIPC"
            assert (await perl.wait()).success


# Bad arguments


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, ValueError, "needs an address to bind"),
        ({"address": "tcp://127.0.0.1:0"}, ValueError, "stream address"),
        ({"address": "unix:@x"}, ValueError, "stream address"),
        ({"remote": "tcp://127.0.0.1:80"}, ValueError, "stream address"),
        ({"address": "udp://127.0.0.1"}, ValueError, "has no port"),
        ({"address": "udp//127.0.0.1:0"}, ValueError, "unknown scheme"),
        ({"address": "udp://127.0.0.1:0", "remote": "unixgram:@x"}, ValueError, "kinds"),
        ({"address": "unixgram:@x", "broadcast": True}, ValueError, "broadcast"),
        ({"address": "udp://127.0.0.1:0", "broadcast": 1}, TypeError, "broadcast"),
        ({"address": "udp://127.0.0.1:0", "max_size": 0}, ValueError, "max_size"),
        ({"address": "udp://127.0.0.1:0", "max_size": True}, ValueError, "max_size"),
        ({"address": "unixgram:@x", "unix_mode": 0o1777}, ValueError, "unix_mode"),
        ({"address": 5}, TypeError, "address must be"),
        ({"remote": b"udp://x:1"}, TypeError, "remote must be"),
    ],
)
def test_bad_arguments_are_refused_before_anything_opens(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        aioipc.open_datagram(**kwargs)  # type: ignore[arg-type]


async def test_broadcast_on_ipv6_is_refused() -> None:
    if problem := _ipv6_loopback_problem():
        pytest.skip(problem)
    with pytest.raises(ValueError, match="broadcast=True needs IPv4"):
        await aioipc.open_datagram("udp://[::1]:0", broadcast=True)


async def test_address_and_remote_of_different_families_are_refused() -> None:
    if problem := _ipv6_loopback_problem():
        pytest.skip(problem)
    with pytest.raises(ValueError, match="different families"):
        await aioipc.open_datagram("udp://127.0.0.1:0", remote="udp://[::1]:9")


async def test_bad_send_arguments_name_the_problem() -> None:
    async with aioipc.open_datagram("udp://127.0.0.1:0") as sock:
        with pytest.raises(ValueError, match="needs addr"):
            await sock.send(b"x")
        with pytest.raises(TypeError, match="bytes-like"):
            await sock.send("text", "udp://127.0.0.1:9")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="addr must be"):
            await sock.send(b"x", 9)
        with pytest.raises(ValueError, match="from a udp socket"):
            await sock.send(b"x", "unixgram:@x")
        with pytest.raises(ValueError, match="it is IPv6 and this socket is IPv4"):
            await sock.send(b"x", "udp://[::1]:9")
        with pytest.raises(ValueError, match="port 0"):
            await sock.send(b"x", "udp://127.0.0.1:0")
        with pytest.raises(ValueError, match="bad port"):
            await sock.send(b"x", "udp://127.0.0.1:x y")
    async with aioipc.open_datagram(_abstract()) as unix:
        with pytest.raises(ValueError, match="from a unixgram socket"):
            await unix.send(b"x", "udp://127.0.0.1:9")


async def test_a_flood_of_datagrams_does_not_starve_other_tasks() -> None:
    # receive() reads a datagram that is already there without waiting on the loop;
    # a bounded number in a row must still let other tasks, and timeouts, run.
    async with aioipc.open_datagram("udp://127.0.0.1:0") as receiver:
        host, port = receiver.local_address.host, receiver.local_address.port
        stop = threading.Event()

        def flood() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                while not stop.is_set():
                    sender.sendto(b"f" * 64, (host, port))

        flooder = threading.Thread(target=flood)
        flooder.start()
        ticks = 0
        received = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        async def receive_forever() -> None:
            nonlocal received
            while True:
                await receiver.receive()
                received += 1

        tick_task = asyncio.create_task(ticker())
        try:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(receive_forever(), 0.2)
        finally:
            stop.set()
            flooder.join()
            tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tick_task
        assert received > 0
        assert ticks > 0
