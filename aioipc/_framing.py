"""Sans-IO framing: bytes in, lines and records out, no event loop in sight.

:class:`ReceiveBuffer` is what :class:`aioipc.Stream` keeps its unread input in.  It
is a plain object fed with :meth:`~ReceiveBuffer.feed` and asked for complete units —
up to *n* bytes, exactly *n* bytes, a record up to a delimiter, a line — so the framing
rules can be tested (and benchmarked) on their own, for every way the input might be
split into chunks.

Lines follow the Internet convention of perlipc's "Internet Line Terminators": a line
ends at ``\\n``, and a ``\\r`` right before that ``\\n`` belongs to the terminator, so
``\\n`` and ``\\r\\n`` are both accepted on input.  A lone ``\\r`` is data.
"""

from __future__ import annotations

from ._errors import DelimiterNotFound, LineTooLong

__all__ = ["DEFAULT_LINE_LIMIT", "ReceiveBuffer"]

#: The longest line (without its terminator) that line helpers accept by default.
DEFAULT_LINE_LIMIT = 64 * 1024


class ReceiveBuffer:
    """An append-only byte buffer that hands out complete frames.

    Every ``take_*`` method either returns a whole frame and removes it from the buffer,
    or returns ``None`` and leaves the buffer exactly as it was ("need more data").
    Nothing is ever half-consumed: when a frame is refused (too long), its bytes stay.
    """

    __slots__ = ("_data", "_scanned")

    def __init__(self) -> None:
        self._data = bytearray()
        # How far a search for b"\n" has already looked without success, so that a
        # long line trickling in one byte at a time costs O(n), not O(n²).
        self._scanned = 0

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes."""
        self._data += data

    def unread(self, data: bytes) -> None:
        """Put bytes back at the front (they were taken, but their reader went away)."""
        self._data[:0] = data
        self._scanned = 0

    def _consume(self, count: int) -> bytes:
        if count == len(self._data):
            chunk = bytes(self._data)
            self._data.clear()
        else:
            chunk = bytes(self._data[:count])
            # CPython's bytearray drops a prefix in O(1): it moves its start pointer.
            del self._data[:count]
        self._scanned = 0
        return chunk

    def take(self, max_bytes: int) -> bytes:
        """Remove and return up to ``max_bytes`` bytes (``b""`` when empty)."""
        return self._consume(min(max_bytes, len(self._data)))

    def take_all(self) -> bytes:
        """Remove and return everything buffered."""
        return self._consume(len(self._data))

    def take_exactly(self, count: int) -> bytes | None:
        """Remove and return exactly ``count`` bytes, or ``None`` if fewer are buffered."""
        if len(self._data) < count:
            return None
        return self._consume(count)

    def take_until(self, delimiter: bytes, max_bytes: int) -> bytes | None:
        """Remove and return the bytes before ``delimiter``; the delimiter is dropped.

        Returns ``None`` while the delimiter has not arrived yet.

        Raises:
            DelimiterNotFound: ``max_bytes`` bytes are buffered and the delimiter does
                not start within them.  The buffer is left untouched.
        """
        index = self._data.find(delimiter, 0, max_bytes + len(delimiter))
        if index < 0 or index > max_bytes:
            if len(self._data) >= max_bytes + len(delimiter):
                raise DelimiterNotFound(delimiter, max_bytes)
            return None
        chunk = self._consume(index + len(delimiter))
        return chunk[:index]

    def take_line(self, limit: int = DEFAULT_LINE_LIMIT) -> bytes | None:
        """Remove and return one line without its ``\\n`` or ``\\r\\n`` terminator.

        Returns ``None`` while the line is incomplete.

        Raises:
            LineTooLong: the line is longer than ``limit`` bytes (terminator not
                counted).  The buffer is left untouched.
        """
        index = self._data.find(b"\n", self._scanned)
        if index < 0:
            self._scanned = len(self._data)
            pending = len(self._data)
            if self._data.endswith(b"\r"):
                pending -= 1  # may turn out to be half of a terminator
            if pending > limit:
                raise LineTooLong(limit)
            return None
        end = index - 1 if index > 0 and self._data[index - 1] == 0x0D else index
        if end > limit:
            raise LineTooLong(limit)
        line = self._consume(index + 1)
        return line[:end]

    def take_last_line(self, limit: int = DEFAULT_LINE_LIMIT) -> bytes | None:
        """At end of input: return what is left as a final, unterminated line.

        Returns ``None`` when nothing is left.

        Raises:
            LineTooLong: the remainder is longer than ``limit`` bytes.
        """
        if not self._data:
            return None
        if len(self._data) > limit:
            raise LineTooLong(limit)
        return self.take_all()
