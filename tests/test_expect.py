"""The sans-IO matcher behind Terminal.expect, alone (no loop, no pty)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioipc._expect import Matcher, compile_patterns


@given(
    data=st.binary(max_size=200),
    literal=st.binary(min_size=1, max_size=4),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=5),
)
def test_exact_match_is_the_first_occurrence_however_the_input_is_split(
    data: bytes, literal: bytes, cuts: list[int]
) -> None:
    matcher = Matcher()
    compiled = compile_patterns([literal], exact=True)
    result = None
    start = 0
    for cut in [*sorted(c for c in cuts if c <= len(data)), len(data)]:
        matcher.feed(data[start:cut])
        start = cut
        result = result or matcher.search(compiled)
    index = data.find(literal)
    if index < 0:
        assert result is None
        assert matcher.unmatched() == data
        return
    assert result is not None
    # Fed in pieces, the first search that matches may see only a prefix: the match
    # found is still the first occurrence, since later bytes cannot move it earlier.
    assert (result.before, result.after, result.match) == (data[:index], literal, None)
    assert result.before + result.after + matcher.unmatched() == data


@given(st.binary(max_size=100), st.binary(max_size=100))
def test_regex_match_consumes_through_the_match_and_keeps_the_rest(
    head: bytes, tail: bytes
) -> None:
    matcher = Matcher()
    matcher.feed(head.replace(b"#", b"") + b"#42#" + tail)
    result = matcher.search(compile_patterns([rb"#(\d+)#", b"#"], exact=False))
    assert result is not None
    assert result.index == 0  # same start: the first pattern listed wins
    assert result.match is not None
    assert result.match.group(1) == b"42"
    assert result.before == head.replace(b"#", b"")
    assert matcher.unmatched() == tail


def test_earliest_match_wins_over_list_order() -> None:
    matcher = Matcher()
    matcher.feed(b"abc xyz")
    result = matcher.search(compile_patterns(["xyz", "abc"], exact=False))
    assert result is not None
    assert (result.index, result.before, result.after) == (1, b"", b"abc")


def test_tail_keeps_the_last_200_bytes() -> None:
    matcher = Matcher()
    for i in range(100):
        matcher.feed(b"%03d" % i)
    assert len(matcher.tail) == 200
    assert matcher.tail.endswith(b"099")


def test_bad_patterns() -> None:
    with pytest.raises(TypeError, match="compiled str regex"):
        compile_patterns(re.compile("x"), exact=False)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"patterns\[1\]"):
        compile_patterns([b"x", 3], exact=False)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="patterns must be"):
        compile_patterns(3, exact=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        compile_patterns("", exact=True)
