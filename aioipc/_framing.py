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

from collections import deque

from ._errors import DelimiterNotFound, LineTooLong

__all__ = ["DEFAULT_LINE_LIMIT", "ReceiveBuffer"]

#: The longest line (without its terminator) that line helpers accept by default.
DEFAULT_LINE_LIMIT = 64 * 1024


class ReceiveBuffer:
    """A byte buffer that hands out complete frames.

    Every ``take_*`` method either returns a whole frame and removes it from the buffer,
    or returns ``None`` and leaves the buffer exactly as it was ("need more data").
    Nothing is ever half-consumed: when a frame is refused (too long), its bytes stay.

    Storage is two-tier, because raw reads and framing want different things.  Chunks
    arrive as ``bytes`` and queue up untouched, so :meth:`take` can hand a whole chunk
    on without copying it.  The framing methods need one contiguous, searchable run:
    they first move the queued chunks onto ``_flat``, a bytearray read from
    ``_flat_start`` on, whose consumed prefix is dropped in bulk rather than per frame.
    Everything in ``_flat`` comes before everything in ``_chunks``.
    """

    __slots__ = ("_chunks", "_flat", "_flat_start", "_head_start", "_scanned", "size")

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        # Bytes of _chunks[0] already taken: slicing off the rest would copy it.
        self._head_start = 0
        self._flat = bytearray()
        self._flat_start = 0
        #: How many bytes are buffered (``len()``, without a call, for hot paths).
        self.size = 0
        # How far a search for b"\n" in _flat has looked without success, so that a
        # long line trickling in one byte at a time costs O(n), not O(n²).
        self._scanned = 0

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes."""
        if data:
            self._chunks.append(data if isinstance(data, bytes) else bytes(data))
            self.size += len(data)

    def unread(self, data: bytes) -> None:
        """Put bytes back at the front (they were taken, but their reader went away)."""
        if data:
            self._flatten()
            self._flat[: self._flat_start] = data
            self._flat_start = 0
            self.size += len(data)
            self._scanned = 0

    def _flatten(self) -> None:
        """Move queued chunks onto the contiguous tier."""
        if self._flat_start and self._flat_start * 2 >= len(self._flat):
            del self._flat[: self._flat_start]
            self._scanned -= self._flat_start
            self._flat_start = 0
        if self._chunks and self._head_start:
            with memoryview(self._chunks.popleft()) as head:
                self._flat += head[self._head_start :]
            self._head_start = 0
        while self._chunks:
            self._flat += self._chunks.popleft()

    def _take_flat(self, count: int) -> bytes:
        start = self._flat_start
        with memoryview(self._flat) as view:
            chunk = bytes(view[start : start + count])
        self._flat_start = start + count
        self.size -= count
        self._scanned = self._flat_start
        if self._flat_start == len(self._flat):
            self._flat.clear()
            self._flat_start = self._scanned = 0
        return chunk

    def take(self, max_bytes: int) -> bytes:
        """Remove and return up to ``max_bytes`` bytes (``b""`` when empty).

        May return fewer than are buffered: at most one received chunk at a time, so
        that a chunk which fits is handed on without a copy.
        """
        if self._flat_start < len(self._flat):
            return self._take_flat(min(max_bytes, len(self._flat) - self._flat_start))
        if not self._chunks:
            return b""
        head = self._chunks[0]
        start = self._head_start
        if start == 0 and len(head) <= max_bytes:
            self._chunks.popleft()
            self.size -= len(head)
            return head
        end = min(len(head), start + max_bytes)
        piece = head[start:end]
        self.size -= end - start
        if end == len(head):
            self._chunks.popleft()
            self._head_start = 0
        else:
            self._head_start = end
        return piece

    def take_all(self) -> bytes:
        """Remove and return everything buffered."""
        self._flatten()
        return self._take_flat(len(self._flat) - self._flat_start)

    def take_exactly(self, count: int) -> bytes | None:
        """Remove and return exactly ``count`` bytes, or ``None`` if fewer are buffered."""
        if self.size < count:
            return None
        if not self._flat and self._chunks and len(self._chunks[0]) - self._head_start >= count:
            return self.take(count)
        self._flatten()
        return self._take_flat(count)

    def take_until(self, delimiter: bytes, max_bytes: int) -> bytes | None:
        """Remove and return the bytes before ``delimiter``; the delimiter is dropped.

        Returns ``None`` while the delimiter has not arrived yet.

        Raises:
            DelimiterNotFound: ``max_bytes`` bytes are buffered and the delimiter does
                not start within them.  The buffer is left untouched.
        """
        self._flatten()
        start = self._flat_start
        index = self._flat.find(delimiter, start, start + max_bytes + len(delimiter))
        if index < 0:
            if self.size >= max_bytes + len(delimiter):
                raise DelimiterNotFound(delimiter, max_bytes)
            return None
        frame = self._take_flat(index - start + len(delimiter))
        return frame[: index - start]

    def take_line(self, limit: int = DEFAULT_LINE_LIMIT) -> bytes | None:
        """Remove and return one line without its ``\\n`` or ``\\r\\n`` terminator.

        Returns ``None`` while the line is incomplete.

        Raises:
            LineTooLong: the line is longer than ``limit`` bytes (terminator not
                counted).  The buffer is left untouched.
        """
        self._flatten()
        start = self._flat_start
        index = self._flat.find(b"\n", max(self._scanned, start))
        if index < 0:
            self._scanned = len(self._flat)
            pending = self.size
            if self._flat.endswith(b"\r"):
                pending -= 1  # may turn out to be half of a terminator
            if pending > limit:
                raise LineTooLong(limit)
            return None
        end = index - 1 if index > start and self._flat[index - 1] == 0x0D else index
        if end - start > limit:
            raise LineTooLong(limit)
        line = self._take_flat(index - start + 1)
        return line[: end - start]

    def take_last_line(self, limit: int = DEFAULT_LINE_LIMIT) -> bytes | None:
        """At end of input: return what is left as a final, unterminated line.

        Returns ``None`` when nothing is left.

        Raises:
            LineTooLong: the remainder is longer than ``limit`` bytes.
        """
        if not self.size:
            return None
        if self.size > limit:
            raise LineTooLong(limit)
        return self.take_all()
