"""Addresses: the one syntax, its errors, and the Unix socket file rules, on real files."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioipc._addresses import (
    Address,
    bind_unix,
    listen_stream,
    open_stream_socket,
    parse_address,
    resolve,
    unlink_unix_socket,
)

# The syntax


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp://127.0.0.1:8080", Address("tcp", "127.0.0.1", 8080)),
        ("tcp://localhost:0", Address("tcp", "localhost", 0)),
        ("tcp://[::1]:8080", Address("tcp", "::1", 8080)),
        ("tcp://[fe80::1%eth0]:22", Address("tcp", "fe80::1%eth0", 22)),
        ("tcp://:8080", Address("tcp", None, 8080)),
        ("udp://127.0.0.1:53", Address("udp", "127.0.0.1", 53)),
        ("udp://[::1]:0", Address("udp", "::1", 0)),
        ("unix:/run/app.sock", Address("unix", path="/run/app.sock")),
        ("unix:relative.sock", Address("unix", path="relative.sock")),
        ("unix:///run/app.sock", Address("unix", path="/run/app.sock")),
        ("unix:@name", Address("unix", path="\0name")),
        ("unixgram:/run/log.sock", Address("unixgram", path="/run/log.sock")),
        ("unixgram:@log", Address("unixgram", path="\0log")),
    ],
)
def test_every_syntax_parses(text: str, expected: Address) -> None:
    assert parse_address(text) == expected


def test_canonical_text_of_each_syntax() -> None:
    assert str(parse_address("tcp://[::1]:80")) == "tcp://[::1]:80"
    assert str(parse_address("unix:///run/x")) == "unix:/run/x"
    assert str(parse_address("unix:@abstract")) == "unix:@abstract"
    assert str(parse_address("tcp://:80")) == "tcp://:80"
    # A path that starts with "//" keeps both slashes through a round trip.
    address = Address("unix", path="//double")
    assert parse_address(str(address)) == address


def test_address_properties() -> None:
    tcp = parse_address("tcp://127.0.0.1:1")
    udp = parse_address("udp://127.0.0.1:1")
    path = parse_address("unix:/x")
    abstract = parse_address("unixgram:@x")
    assert (tcp.is_unix, path.is_unix, abstract.is_unix) == (False, True, True)
    assert (path.is_abstract, abstract.is_abstract) == (False, True)
    assert tcp.socket_type == path.socket_type == socket.SOCK_STREAM
    assert udp.socket_type == abstract.socket_type == socket.SOCK_DGRAM


def test_host_and_port_keywords() -> None:
    assert parse_address(host="127.0.0.1", port=80) == Address("tcp", "127.0.0.1", 80)
    assert parse_address(host="::1", port="80") == Address("tcp", "::1", 80)
    assert parse_address(host="[::1]", port=80) == Address("tcp", "::1", 80)
    assert parse_address(port=8080) == Address("tcp", None, 8080)
    assert parse_address(host="h", port=5, default_scheme="udp") == Address("udp", "h", 5)
    assert parse_address("tcp://example.org", port=443) == Address("tcp", "example.org", 443)
    given_address = Address("unix", path="/x")
    assert parse_address(given_address) is given_address


def test_ports_numbers_and_service_names() -> None:
    assert parse_address("tcp://h:0").port == 0
    assert parse_address("tcp://h:65535").port == 65535
    assert parse_address("tcp://h:daytime").port == socket.getservbyname("daytime", "tcp")
    assert parse_address("udp://h:domain").port == socket.getservbyname("domain", "udp")
    assert parse_address(host="h", port="daytime").port == 13


def test_io_socket_name_with_fallback_number() -> None:
    # IO::Socket's "name(number)": the name when the services database knows it...
    assert parse_address("tcp://h:daytime(9999)").port == 13
    # ...and the number when it does not.
    assert parse_address("tcp://h:no-such-service-here(4321)").port == 4321
    assert parse_address(host="h", port="no-such-service-here(7)").port == 7


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("", "unknown scheme ''"),
        ("localhost:80", "unknown scheme 'localhost'"),
        ("http://h:80", "unknown scheme 'http'"),
        ("tcp:h:80", "expected tcp://host:port"),
        ("tcp://h", "has no port"),
        ("tcp://h:", "bad port ''"),
        ("tcp://h:80x", "bad port '80x'"),
        ("tcp://h:-1", "bad port '-1'"),
        ("tcp://h:65536", "port 65536 out of range"),
        ("tcp://h:\u0663", "bad port '\u0663'"),
        ("tcp://h:daytime\n", "bad port 'daytime\\\\n'"),
        ("tcp://h:no-such-service-here", "unknown tcp service 'no-such-service-here'"),
        ("tcp://h:80/path", "unexpected path '/path'"),
        ("tcp://::1:80", "IPv6 host needs brackets"),
        ("tcp://[::1:80", "'\\[' without a closing '\\]'"),
        ("tcp://[]:80", "empty IPv6 literal"),
        ("tcp://[::1]80", "unexpected '80' after '\\]'"),
        ("tcp://[host]:80", "brackets are for IPv6 literals, not 'host'"),
        ("tcp://bad host:80", "host 'bad host'"),
        ("unix:", "no path after the scheme"),
        ("unix:@", "empty abstract name"),
        ("unix:/a\0b", "NUL byte in the path"),
        ("unix:/" + "x" * 107, "path longer than the 107 bytes"),
        ("unix:@" + "x" * 108, "abstract name longer than 107 bytes"),
    ],
)
def test_malformed_addresses_name_the_bad_part(text: str, quoted: str) -> None:
    with pytest.raises(ValueError, match=quoted):
        parse_address(text)


def test_contradicting_or_missing_arguments() -> None:
    with pytest.raises(ValueError, match="no address"):
        parse_address()
    with pytest.raises(ValueError, match="already names its host"):
        parse_address("tcp://a:1", host="b")
    with pytest.raises(ValueError, match="already names its port"):
        parse_address("tcp://a:1", port=2)
    with pytest.raises(ValueError, match="takes no host or port"):
        parse_address("unix:/x", port=1)
    with pytest.raises(ValueError, match="not both"):
        parse_address(Address("tcp", "a", 1), port=2)
    with pytest.raises(ValueError, match="not 'unix'"):
        parse_address(host="a", port=1, default_scheme="unix")
    with pytest.raises(ValueError, match="host 'a/b'"):
        parse_address(host="a/b", port=1)
    with pytest.raises(ValueError, match="port 70000 out of range"):
        parse_address(host="a", port=70000)


def test_wrong_types() -> None:
    with pytest.raises(TypeError, match="not bytes"):
        parse_address(b"tcp://a:1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="port must be an int or str, not bool"):
        parse_address(host="a", port=True)
    with pytest.raises(TypeError, match="host must be a str, not int"):
        parse_address(host=1, port=1)  # type: ignore[arg-type]


# Round trip: str() is canonical and parses back to the same address.

_HOST_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_HOSTS = st.one_of(
    st.none(),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.lists(_HOST_LABEL, min_size=1, max_size=4).map(".".join),
)
_PATH_CHARS = st.characters(exclude_characters="\0", codec="utf-8")


def _fits(name: str) -> bool:
    return 0 < len(os.fsencode(name)) <= 107


_PATHS = st.text(_PATH_CHARS, min_size=1, max_size=60).filter(
    lambda p: _fits(p) and not p.startswith("@")
)
_ABSTRACT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=60)
_ADDRESSES = st.one_of(
    st.builds(
        Address,
        st.sampled_from(["tcp", "udp"]),
        _HOSTS,
        st.integers(0, 65535),
    ),
    st.builds(lambda s, p: Address(s, path=p), st.sampled_from(["unix", "unixgram"]), _PATHS),
    st.builds(
        lambda s, n: Address(s, path="\0" + n),
        st.sampled_from(["unix", "unixgram"]),
        _ABSTRACT.filter(_fits),
    ),
)


@given(_ADDRESSES)
def test_str_round_trips(address: Address) -> None:
    text = str(address)
    assert parse_address(text) == address
    assert str(parse_address(text)) == text


@given(st.ip_addresses(v=6), st.integers(0, 65535))
def test_ipv6_literals_are_bracketed(host: ipaddress.IPv6Address, port: int) -> None:
    text = f"tcp://[{host}]:{port}"
    assert str(parse_address(text)) == text


# Resolving and connecting


async def test_resolve() -> None:
    assert await resolve(parse_address("unix:@x"), passive=False) == [
        (socket.AF_UNIX, socket.SOCK_STREAM, 0, "\0x")
    ]
    [(family, _, _, sockaddr)] = await resolve(parse_address("tcp://[::1]:7"), passive=False)
    assert family == socket.AF_INET6
    assert isinstance(sockaddr, tuple)
    assert sockaddr[:2] == ("::1", 7)
    with pytest.raises(ValueError, match="no host"):
        await resolve(parse_address("tcp://:7"), passive=False)
    with pytest.raises(ValueError, match="port 0"):
        await resolve(parse_address("tcp://127.0.0.1:0"), passive=False)


async def test_open_stream_socket_refuses_datagram_addresses() -> None:
    with pytest.raises(ValueError, match="datagram address"):
        await open_stream_socket(parse_address("udp://127.0.0.1:9"))
    with pytest.raises(ValueError, match="datagram address"):
        await listen_stream(parse_address("unixgram:@x"))


async def test_open_stream_socket_names_the_address_it_failed(tmp_path: Path) -> None:
    missing = parse_address(f"unix:{tmp_path}/missing")
    with pytest.raises(FileNotFoundError, match=f"connect to unix:{tmp_path}/missing"):
        await open_stream_socket(missing)


async def test_unix_connect_waits_for_room_in_a_full_backlog(tmp_path: Path) -> None:
    # A Unix connect that finds the backlog full must wait, not return a socket that
    # was never connected (what both loops' sock_connect do).
    address = parse_address(f"unix:{tmp_path}/s")
    [listener] = await listen_stream(address, backlog=0)
    first = await open_stream_socket(address)  # fills the backlog of 0 (+1)
    waiting = asyncio.ensure_future(open_stream_socket(address))
    try:
        for _ in range(5):
            await asyncio.sleep(0)
        accepted, _ = listener.accept()
        second = await waiting
        second.sendall(b"x")
        accepted.close()
        accepted, _ = listener.accept()
        assert accepted.recv(1) == b"x"
        accepted.close()
        second.close()
    finally:
        waiting.cancel()
        first.close()
        unlink_unix_socket(listener)
        listener.close()


# Listening sockets


async def test_listen_tcp_port_zero_gets_a_real_port() -> None:
    [sock] = await listen_stream(parse_address("tcp://127.0.0.1:0"))
    with sock:
        host, port = sock.getsockname()
        assert host == "127.0.0.1"
        assert port > 0
        assert not sock.getblocking()
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)


async def test_listen_on_a_busy_port_names_the_address() -> None:
    [sock] = await listen_stream(parse_address("tcp://127.0.0.1:0"))
    with sock:
        port = sock.getsockname()[1]
        with pytest.raises(OSError, match=f"bind tcp://127.0.0.1:{port}"):
            await listen_stream(parse_address(f"tcp://127.0.0.1:{port}"))


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask_022")
async def test_unix_sockets_get_exactly_the_mode_asked_for(tmp_path: Path) -> None:
    private = parse_address(f"unix:{tmp_path}/private")
    shared = parse_address(f"unix:{tmp_path}/shared")
    [first] = await listen_stream(private)
    [second] = await listen_stream(shared, unix_mode=0o666)
    try:
        assert stat.S_IMODE(os.lstat(tmp_path / "private").st_mode) == 0o600
        # The umask (022) does not take bits away from what was asked for.
        assert stat.S_IMODE(os.lstat(tmp_path / "shared").st_mode) == 0o666
    finally:
        for sock in (first, second):
            unlink_unix_socket(sock)
            sock.close()
    assert os.listdir(tmp_path) == []


def _stale_socket(path: Path) -> None:
    """Leave a socket file behind, as a server that died would."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()


async def test_a_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "s"
    _stale_socket(path)
    # A second link keeps the old inode alive, so the new file cannot reuse its number.
    os.link(path, tmp_path / "old")
    old_inode = os.lstat(path).st_ino
    [sock] = await listen_stream(parse_address(f"unix:{path}"))
    try:
        assert os.lstat(path).st_ino != old_inode
        client = socket.socket(socket.AF_UNIX)
        client.connect(str(path))
        client.close()
    finally:
        unlink_unix_socket(sock)
        sock.close()


def test_a_stale_datagram_socket_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "d"
    old = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    old.bind(str(path))
    old.close()
    sock = bind_unix(parse_address(f"unixgram:{path}"), socket.SOCK_DGRAM)
    try:
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        unlink_unix_socket(sock)
        sock.close()
    assert not path.exists()


async def test_a_live_servers_socket_is_never_replaced(tmp_path: Path) -> None:
    address = parse_address(f"unix:{tmp_path}/live")
    [live] = await listen_stream(address)
    try:
        inode = os.lstat(tmp_path / "live").st_ino
        with pytest.raises(FileExistsError, match="a server is listening there"):
            await listen_stream(address)
        assert os.lstat(tmp_path / "live").st_ino == inode
        client = await open_stream_socket(address)
        client.close()
    finally:
        unlink_unix_socket(live)
        live.close()


async def test_a_live_server_with_a_full_backlog_is_never_replaced(tmp_path: Path) -> None:
    address = parse_address(f"unix:{tmp_path}/busy")
    [live] = await listen_stream(address, backlog=0)
    filler = await open_stream_socket(address)
    try:
        with pytest.raises(FileExistsError, match="backlog is full"):
            await listen_stream(address)
        assert stat.S_ISSOCK(os.lstat(tmp_path / "busy").st_mode)
    finally:
        filler.close()
        unlink_unix_socket(live)
        live.close()


async def test_a_regular_file_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("keep me")
    with pytest.raises(FileExistsError, match="exists and is not a socket"):
        await listen_stream(parse_address(f"unix:{path}"))
    assert path.read_text() == "keep me"


async def test_a_symlink_even_to_a_stale_socket_is_never_replaced(tmp_path: Path) -> None:
    target = tmp_path / "stale"
    _stale_socket(target)
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(FileExistsError, match="is not a socket"):
        await listen_stream(parse_address(f"unix:{link}"))
    assert link.is_symlink()
    assert stat.S_ISSOCK(os.lstat(target).st_mode)


async def test_a_directory_is_never_replaced(tmp_path: Path) -> None:
    directory = tmp_path / "dir"
    directory.mkdir()
    with pytest.raises(FileExistsError, match="is not a socket"):
        await listen_stream(parse_address(f"unix:{directory}"))
    assert directory.is_dir()


async def test_bind_in_a_missing_directory_names_the_address(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=f"bind unix:{tmp_path}/no/s"):
        await listen_stream(parse_address(f"unix:{tmp_path}/no/s"))


async def test_abstract_sockets_touch_no_file(tmp_path: Path) -> None:
    name = f"aioipc-test-{os.getpid()}-{id(tmp_path)}"
    [sock] = await listen_stream(parse_address(f"unix:@{name}"))
    try:
        assert sock.getsockname() == b"\0" + name.encode()
        unlink_unix_socket(sock)  # nothing to remove, and no error
    finally:
        sock.close()


# Unlinking on close


async def test_unlink_removes_our_socket_file(tmp_path: Path) -> None:
    [sock] = await listen_stream(parse_address(f"unix:{tmp_path}/s"))
    unlink_unix_socket(sock)
    sock.close()
    assert not (tmp_path / "s").exists()
    unlink_unix_socket(sock)  # a second call is harmless


async def test_unlink_spares_a_socket_that_replaced_ours(tmp_path: Path) -> None:
    path = tmp_path / "s"
    [ours] = await listen_stream(parse_address(f"unix:{path}"))
    os.unlink(path)
    theirs = socket.socket(socket.AF_UNIX)
    theirs.bind(str(path))
    theirs.listen()
    try:
        unlink_unix_socket(ours)
        ours.close()
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
        client = socket.socket(socket.AF_UNIX)
        client.connect(str(path))
        client.close()
    finally:
        theirs.close()


async def test_unlink_spares_a_regular_file_that_replaced_ours(tmp_path: Path) -> None:
    path = tmp_path / "s"
    [ours] = await listen_stream(parse_address(f"unix:{path}"))
    os.unlink(path)
    path.write_text("someone else's")
    unlink_unix_socket(ours)
    ours.close()
    assert path.read_text() == "someone else's"


def test_unlink_ignores_sockets_it_did_not_bind(tmp_path: Path) -> None:
    path = tmp_path / "inherited"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    with sock:
        unlink_unix_socket(sock)
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
