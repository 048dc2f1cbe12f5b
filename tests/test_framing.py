"""The sans-IO framing rules, on their own and for every split of the input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioipc import DelimiterNotFound, LineTooLong
from aioipc._framing import ReceiveBuffer


def feed_in_chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    """Feed ``data`` split at ``cuts`` and collect every line as soon as it is whole."""
    buffer = ReceiveBuffer()
    lines: list[bytes] = []
    points = [*sorted({min(cut, len(data)) for cut in cuts}), len(data)]
    start = 0
    for end in points:
        buffer.feed(data[start:end])
        start = end
        while (line := buffer.take_line(limit=len(data) + 1)) is not None:
            lines.append(line)
    last = buffer.take_last_line(limit=len(data) + 1)
    if last is not None:
        lines.append(last)
    return lines


def reference_lines(data: bytes) -> list[bytes]:
    """What the line rule means, written the obvious way."""
    pieces = data.split(b"\n")
    lines = [piece[:-1] if piece.endswith(b"\r") else piece for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


line_bytes = st.binary(max_size=300) | st.lists(
    st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b"xyz"]), max_size=60
).map(b"".join)


@given(line_bytes, st.lists(st.integers(min_value=0, max_value=300), max_size=40))
def test_every_split_gives_the_same_lines(data: bytes, cuts: list[int]) -> None:
    assert feed_in_chunks(data, cuts) == reference_lines(data)


@given(line_bytes)
def test_byte_at_a_time_gives_the_same_lines(data: bytes) -> None:
    assert feed_in_chunks(data, list(range(len(data)))) == reference_lines(data)


@given(
    st.binary(max_size=200),
    st.sampled_from([b"\0", b"--", b"\r\n\r\n"]),
    st.lists(st.integers(min_value=0, max_value=200), max_size=20),
)
def test_records_until_a_delimiter_survive_any_split(
    data: bytes, delimiter: bytes, cuts: list[int]
) -> None:
    buffer = ReceiveBuffer()
    records: list[bytes] = []
    start = 0
    for end in [*sorted({min(cut, len(data)) for cut in cuts}), len(data)]:
        buffer.feed(data[start:end])
        start = end
        while (record := buffer.take_until(delimiter, max_bytes=len(data) + 1)) is not None:
            records.append(record)
    *complete, rest = data.split(delimiter)
    assert records == complete
    assert buffer.take_all() == rest


@given(st.binary(max_size=100), st.integers(min_value=0, max_value=120))
def test_take_exactly_returns_all_or_nothing(data: bytes, count: int) -> None:
    buffer = ReceiveBuffer()
    buffer.feed(data)
    taken = buffer.take_exactly(count)
    if count <= len(data):
        assert taken == data[:count]
        assert buffer.take_all() == data[count:]
    else:
        assert taken is None
        assert buffer.take_all() == data


def test_crlf_split_across_chunks_is_one_terminator() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(b"hello\r")
    assert buffer.take_line() is None
    buffer.feed(b"\nworld\n")
    assert buffer.take_line() == b"hello"
    assert buffer.take_line() == b"world"
    assert buffer.take_line() is None


def test_lone_carriage_return_is_data() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(b"a\rb\n")
    assert buffer.take_line() == b"a\rb"


def test_line_at_the_limit_is_accepted_and_one_past_it_refused() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(b"12345\r\n123456\n")
    assert buffer.take_line(limit=5) == b"12345"
    with pytest.raises(LineTooLong, match="limit of 5 bytes"):
        buffer.take_line(limit=5)
    # Refused, not half-parsed: the line is still all there.
    assert buffer.take_all() == b"123456\n"


def test_unterminated_overlong_line_is_refused_before_its_end_arrives() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(b"x" * 5 + b"\r")
    assert buffer.take_line(limit=5) is None  # the \r may be half of \r\n
    buffer.feed(b"y")
    with pytest.raises(LineTooLong):
        buffer.take_line(limit=5)
    assert len(buffer) == 7


def test_delimiter_not_found_leaves_the_buffer_alone() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(b"abcdefgh")
    with pytest.raises(DelimiterNotFound, match="within the first 4 bytes"):
        buffer.take_until(b"!", max_bytes=4)
    assert buffer.take_all() == b"abcdefgh"


def test_unread_puts_bytes_back_in_front() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(b"world\n")
    buffer.unread(b"hello ")
    assert buffer.take_line() == b"hello world"


operations = st.lists(
    st.one_of(
        st.tuples(st.just("feed"), st.binary(min_size=1, max_size=40)),
        st.tuples(st.just("take"), st.integers(min_value=1, max_value=50)),
        st.tuples(st.just("exactly"), st.integers(min_value=0, max_value=50)),
        st.tuples(st.just("line"), st.just(0)),
        st.tuples(st.just("unread"), st.binary(min_size=1, max_size=10)),
    ),
    max_size=60,
)


@given(operations)
def test_any_mix_of_operations_matches_a_plain_bytes_model(ops: list[tuple[str, object]]) -> None:
    buffer = ReceiveBuffer()
    model = b""
    for name, argument in ops:
        if name == "feed":
            assert isinstance(argument, bytes)
            buffer.feed(argument)
            model += argument
        elif name == "unread":
            assert isinstance(argument, bytes)
            buffer.unread(argument)
            model = argument + model
        elif name == "take":
            assert isinstance(argument, int)
            got = buffer.take(argument)
            assert 0 < len(got) <= argument or not model
            assert model.startswith(got)
            model = model[len(got) :]
        elif name == "exactly":
            assert isinstance(argument, int)
            got = buffer.take_exactly(argument)
            if argument <= len(model):
                assert got == model[:argument]
                model = model[argument:]
            else:
                assert got is None
        else:
            line = buffer.take_line(limit=10_000)
            if b"\n" in model:
                raw, model = model.split(b"\n", 1)
                assert line == (raw[:-1] if raw.endswith(b"\r") else raw)
            else:
                assert line is None
        assert len(buffer) == len(model)
    assert buffer.take_all() == model
