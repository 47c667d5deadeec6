"""Cut a stream of CSV bytes into parts of about equal size, each a run of whole records.

The input arrives in chunks (a file read, an S3 body) and leaves as :class:`Piece` objects, each
tagged with the part it belongs to, so no more than one chunk is ever in memory. A part ends
after the first newline past its share of the bytes, and only once it holds a record; empty lines
are not records (the transform skips them), so none starts a part and a tail of them is dropped.

A newline inside a quoted field cannot be kept whole by any line split, and SageMaker's batch
transform "doesn't support CSV-formatted input that contains embedded newline characters" (guide,
"Batch transform for inference"): such an input is refused, naming the line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ml.backends.split.contract import InputContract
from ml.errors import UserInputError

CHUNK_BYTES = 8 << 20  # read size: large enough that the per-chunk Python work is noise
_QUOTE_OR_NEWLINE = re.compile(rb'["\n]')
_NEWLINE = ord("\n")
_EMPTY_LINE = re.compile(rb"\n(?=\n)")  # a newline that ends an empty line: the next byte is one too


def _empty_lines(data: Any, end: int, *, after: int) -> int:
    """Empty lines that end in ``data[:end]``: newlines right after a newline (``after``: the byte before ``data``)."""
    if end == 0:
        return 0
    leading = 1 if after == _NEWLINE and data[0] == _NEWLINE else 0
    # rfind, not `in`: CPython's forward search of a two-newline needle crawls through CSV (~3x slower).
    return leading + (len(_EMPTY_LINE.findall(data, 0, end)) if data.rfind(b"\n\n", 0, end) >= 0 else 0)


def _newlines(chunk: Any, end: int) -> int:
    """Newlines in ``chunk[:end]``, a block at a time (a memory map has no ``count``)."""
    if isinstance(chunk, bytes):
        return chunk.count(b"\n", 0, end)
    return sum(bytes(chunk[k : min(k + CHUNK_BYTES, end)]).count(b"\n") for k in range(0, end, CHUNK_BYTES))


def _has_record(chunk: Any, start: int, end: int) -> bool:
    """Whether ``chunk[start:end]`` holds anything but newlines (a look at its first bytes, no copy)."""
    while start < end and chunk[start] == _NEWLINE:
        start += 1
    return start < end


def part_count(*, size: int, wanted: int) -> int:
    """How many parts to cut ``size`` bytes into: ``wanted``, but never more parts than bytes (and
    0 or 1 means the input is used as it is, one part)."""
    return max(1, min(wanted, size))


def part_name(index: int) -> str:
    """The name of part ``index`` (0-based): zero-padded, so sorting by name keeps input order."""
    return f"part-{index + 1:05d}.csv"


@dataclass(frozen=True, kw_only=True)
class Piece:
    """Bytes ``start``-``end`` of the chunk that was fed, belonging to part ``part``.

    The bytes are sliced only when asked for (:attr:`data`): a caller that needs only where a part
    lies (a local file read in place) never copies them.
    """

    part: int  # 0-based, consecutive from 0
    offset: int  # where the piece starts in the input
    first_line: int  # the input's line number (1-based) of the piece's first line; 0: not counted
    first_record: int  # the input's record number (1-based; empty lines are no records) of that line; 0: not counted
    chunk: Any  # bytes, or anything sliceable into bytes (a memory map)
    start: int
    end: int

    @property
    def data(self) -> bytes:
        return bytes(self.chunk[self.start : self.end])

    @property
    def size(self) -> int:
        return self.end - self.start


class LineCutter:
    """Feed it the input's chunks in order (:meth:`feed`), then :meth:`finish`; both yield pieces.

    ``count=False`` skips counting lines and records (the pieces say 0), where only the cut points
    matter (a local file, read in place); a refusal then asks ``lines_before(offset)`` for its line.
    """

    def __init__(
        self,
        *,
        size: int,
        parts: int,
        source: str,
        contract: InputContract,
        count: bool = True,
        lines_before: Callable[[int], int] | None = None,
    ) -> None:
        self._source, self._contract, self._count, self._lines_before = source, contract, count, lines_before
        # Part k (0-based) may end once the input's first (k+1)/parts share has been passed.
        self._targets = [-(-size * k // parts) for k in range(1, parts)]
        self._part = 0
        self._has_record = False  # the current part holds at least one record
        self._offset = 0  # bytes of the input seen before the current chunk
        self._line = 1  # line number at the start of the current chunk
        self._empty = 0  # lines before the current chunk that are no records (empty ones, the header)
        self._last = _NEWLINE  # the byte before the current chunk (a newline at the start: line 1 may be empty)
        self._in_quotes = False
        self._head = b"" if contract.header else None  # the header line while it is being read
        self.header = b""  # the header held back out of the parts (empty without one)

    def feed(self, chunk: Any) -> Iterator[Piece]:
        """Cut ``chunk`` (bytes, or a memory map of the whole input)."""
        if not len(chunk):
            return
        if self._head is not None:
            chunk = self._take_header(chunk)
            if not chunk:
                return
        if self._in_quotes or chunk.find(b'"') >= 0:
            self._check_quotes(chunk)
        yield from self._cut(chunk)
        self._offset += len(chunk)
        if self._count:
            self._line += chunk.count(b"\n")
            self._empty += _empty_lines(chunk, len(chunk), after=self._last)
        self._last = chunk[-1]

    def finish(self) -> Iterator[Piece]:
        if self._head:  # a header with no newline after it: the whole input was its line
            self.header, self._head = self._head, None
        if self._in_quotes:
            raise UserInputError(f"{self._source} ends inside a quoted field (a '\"' is never closed); fix the quoting")
        return iter(())

    def _take_header(self, chunk: Any) -> bytes:
        assert self._head is not None
        head = self._head + bytes(chunk)
        length = self._contract.header_length(head)
        if length is None:
            self._head = head
            return b""
        self.header, self._head = head[:length], None
        self._offset, self._line, self._empty = length, 2, 1
        return head[length:]

    def _cut(self, chunk: Any) -> Iterator[Piece]:
        start = 0
        while True:
            end = self._cut_point(chunk, start)
            yield from self._emit(chunk, start, len(chunk) if end is None else end)
            if end is None:
                return
            self._part, self._has_record = self._part + 1, False
            while self._targets and self._targets[0] <= self._offset + end:
                self._targets.pop(0)  # a record longer than a share covers the next target too
            start = end

    def _cut_point(self, chunk: Any, start: int) -> int | None:
        """Where in ``chunk`` (from ``start``) the current part ends, or ``None`` if not in this chunk."""
        if not self._targets:
            return None
        begin = max(start, self._targets[0] - 1 - self._offset)
        while begin < len(chunk):
            newline = int(chunk.find(b"\n", begin))
            if newline < 0:
                return None
            if self._has_record or _has_record(chunk, start, newline):
                return newline + 1
            begin = newline + 1  # only empty lines so far: a part must hold a record
        return None

    def _emit(self, chunk: Any, start: int, end: int) -> Iterator[Piece]:
        if not self._has_record:
            while start < end and chunk[start] == _NEWLINE:
                start += 1  # empty lines never start a part: they are no records
            if start == end:
                return
            self._has_record = True
        line = record = 0
        if self._count:
            line = self._line + (chunk.count(b"\n", 0, start) if start else 0)
            record = line - self._empty - (_empty_lines(chunk, start, after=self._last) if start else 0)
        yield Piece(part=self._part, offset=self._offset + start, first_line=line, first_record=record, chunk=chunk, start=start, end=end)

    def _check_quotes(self, chunk: Any) -> None:
        inside = self._in_quotes
        for found in _QUOTE_OR_NEWLINE.finditer(chunk):
            if found.group() == b'"':
                inside = not inside  # an escaped quote ("") toggles twice: parity is what counts
            elif inside:
                if self._count or self._lines_before is None:
                    line = self._line + _newlines(chunk, found.start())
                else:
                    line = self._lines_before(self._offset + found.start()) + 1
                raise UserInputError(
                    f"{self._source} line {line}: a quoted CSV field holds a newline, so no split on line boundaries can keep "
                    "its record whole (and SageMaker's batch transform does not support CSV input with embedded newlines); "
                    "remove the newline from the field"
                )
        self._in_quotes = inside


def pieces(cutter: LineCutter, chunks: Iterable[Any]) -> Iterator[Piece]:
    """Every piece of ``chunks`` through ``cutter``, its end included (``cutter.header`` is then set)."""
    for chunk in chunks:
        yield from cutter.feed(chunk)
    yield from cutter.finish()
