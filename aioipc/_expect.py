"""Sans-IO pattern matching for :meth:`aioipc.Terminal.expect` (pexpect's model).

No loop in sight: a :class:`Matcher` is fed bytes and asked whether any of a list of
patterns matches, so hypothesis can hammer it alone.  Matching follows pexpect: the
earliest match in the buffer wins, and of two patterns matching at the same place the
one listed first; a match consumes everything up to and including it, and the rest
stays buffered for the next call.

Regexes run on an immutable ``bytes`` snapshot of the unread input, never on a
``bytearray`` that is consumed afterwards (a ``re.Match`` keeps pointing into the
object it searched, and mutating that object under it changes ``match.group()``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from ._framing import ReceiveBuffer

__all__ = ["ExpectResult", "Matcher", "Pattern", "compile_patterns"]

#: What ``expect`` accepts: a regex as bytes or str (str is UTF-8 encoded), or a
#: compiled bytes regex; ``expect_exact`` takes bytes or str and matches literally.
Pattern: TypeAlias = "str | bytes | re.Pattern[bytes]"

#: How many of the last bytes read an error message quotes.
TAIL_BYTES = 200


@dataclass(frozen=True)
class ExpectResult:
    """What :meth:`aioipc.Terminal.expect` found.

    Attributes:
        index: which pattern matched (its position in the list passed).
        match: the :class:`re.Match` (over bytes) for a regex, ``None`` for
            ``expect_exact``.
        before: the bytes that came before the match.
        after: the matched bytes themselves (pexpect calls them ``after``).
    """

    index: int
    match: re.Match[bytes] | None
    before: bytes
    after: bytes


class _Compiled:
    __slots__ = ("exact", "literals", "regexes")

    def __init__(self, regexes: list[re.Pattern[bytes]], literals: list[bytes]) -> None:
        self.regexes = regexes
        self.literals = literals
        self.exact = bool(literals)

    def describe(self) -> str:
        if self.exact:
            items = [repr(b) for b in self.literals]
            kind = "exact text"
        else:
            items = [repr(r.pattern) for r in self.regexes]
            kind = "pattern"
        if len(items) == 1:
            return f"{kind} {items[0]}"
        return f"any of the {kind}s [{', '.join(items)}]"


def _as_bytes(pattern: str | bytes | bytearray) -> bytes:
    if isinstance(pattern, str):
        return pattern.encode("utf-8")
    return bytes(pattern)


def compile_patterns(patterns: Pattern | Sequence[Pattern], *, exact: bool) -> _Compiled:
    """Check and compile one pattern or a list of them.

    Raises:
        TypeError: a pattern is not bytes, str or a compiled bytes regex (a compiled
            str regex cannot search terminal output, which is bytes), or a compiled
            regex was given to ``expect_exact``.
        ValueError: no patterns, an empty pattern, or a regex that does not compile.
    """
    items: list[object]
    if isinstance(patterns, str | bytes | bytearray | re.Pattern):
        items = [patterns]
    elif isinstance(patterns, Sequence):
        items = list(patterns)
    else:
        raise TypeError(
            f"patterns must be bytes, str, a compiled bytes regex or a list of them, "
            f"not {type(patterns).__name__}"
        )
    if not items:
        raise ValueError("patterns must not be an empty list")
    regexes: list[re.Pattern[bytes]] = []
    literals: list[bytes] = []
    for i, item in enumerate(items):
        name = f"patterns[{i}]"
        if isinstance(item, re.Pattern):
            if exact:
                raise TypeError(
                    f"{name} is a compiled regex; expect_exact() matches literal text "
                    "only (use expect() for regexes)"
                )
            if not isinstance(item.pattern, bytes):
                raise TypeError(
                    f"{name} is a compiled str regex {item.pattern!r}; terminal output "
                    "is bytes: compile a bytes pattern or pass the str uncompiled"
                )
            regexes.append(item)
            continue
        if not isinstance(item, str | bytes | bytearray):
            raise TypeError(
                f"{name} must be bytes, str or a compiled bytes regex, not {type(item).__name__}"
            )
        text = _as_bytes(item)
        if not text:
            raise ValueError(f"{name} is empty; an empty pattern would match at once")
        if exact:
            literals.append(text)
            continue
        try:
            regexes.append(re.compile(text))
        except re.error as exc:
            raise ValueError(f"{name} {item!r} is not a valid regex: {exc}") from None
    return _Compiled(regexes, literals)


class Matcher:
    """Unread terminal output, searched for patterns.

    ``buffer`` is the :class:`~aioipc._framing.ReceiveBuffer` that also serves plain
    reads (``receive``, ``readline``), so expect and line reads share one input.
    """

    def __init__(self) -> None:
        self.buffer = ReceiveBuffer()
        self._tail = b""

    def feed(self, data: bytes) -> None:
        """Add bytes read from the terminal."""
        self.buffer.feed(data)
        self._tail = (self._tail + data)[-TAIL_BYTES:]

    @property
    def tail(self) -> bytes:
        """The last bytes read (up to 200), matched or not, for error messages."""
        return self._tail

    def unmatched(self) -> bytes:
        """A copy of everything buffered, left in the buffer."""
        data = self.buffer.take_all()
        if data:
            self.buffer.unread(data)
        return data

    def search(self, compiled: _Compiled) -> ExpectResult | None:
        """Consume through the earliest match and return it, or None (buffer untouched)."""
        if not self.buffer:
            return None
        snapshot = self.buffer.take_all()
        best: tuple[int, int, int, re.Match[bytes] | None] | None = None
        if compiled.exact:
            for index, literal in enumerate(compiled.literals):
                start = snapshot.find(literal)
                if start >= 0 and (best is None or start < best[0]):
                    best = (start, start + len(literal), index, None)
        else:
            for index, regex in enumerate(compiled.regexes):
                found = regex.search(snapshot)
                if found is not None and (best is None or found.start() < best[0]):
                    best = (found.start(), found.end(), index, found)
        if best is None:
            self.buffer.unread(snapshot)
            return None
        start, end, index, match = best
        rest = snapshot[end:]
        if rest:
            self.buffer.unread(rest)
        return ExpectResult(index, match, snapshot[:start], snapshot[start:end])

    def take_rest(self) -> bytes:
        """Remove and return everything buffered (for an EOF error)."""
        return self.buffer.take_all()
