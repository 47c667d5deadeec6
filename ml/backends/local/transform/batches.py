"""Streaming a CSV file as MultiRecord mini-batches of whole lines, each at most ``max_bytes``.

Memory is bounded by one read buffer per batch, whatever the file's size: this is what keeps a
10-million-row transform as small as a thousand-row one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ml.errors import JobFailedError

_EMPTY_LINE = re.compile(rb"\n(?=\n)")  # the newline of an empty line follows another


@dataclass(frozen=True, kw_only=True)
class Batch:
    first: int  # 1-based number of the batch's first record in its file
    count: int
    data: bytes  # the records, newline-separated, no trailing newline

    @property
    def last(self) -> int:
        return self.first + self.count - 1


def _batch(first: int, body: bytes) -> Batch:
    if body.startswith(b"\n") or b"\n\n" in body or body.endswith(b"\n"):
        # Blank lines are not records (SageMaker skips them too); the common case never gets here.
        body = b"\n".join(line for line in body.split(b"\n") if line)
    return Batch(first=first, count=body.count(b"\n") + 1 if body else 0, data=body)


def read_batches(
    path: Path, *, max_bytes: int, start: int = 0, end: int | None = None, first_record: int = 1, name: str = ""
) -> Iterator[Batch]:
    """Batches of the records in bytes ``start``-``end`` of ``path`` (a split part; default: all of it).

    Records are numbered from ``first_record`` (a part's place in its file); ``name`` is what an
    error calls the input (default: the file's name).
    """
    record = first_record
    carry = b""
    left = -1 if end is None else end - start  # bytes of the range not yet read; -1: to the end
    with path.open("rb") as handle:
        handle.seek(start)
        while True:
            want = max_bytes - len(carry)
            chunk = handle.read(want if left < 0 else min(want, left))
            left = left if left < 0 else left - len(chunk)
            buffer = carry + chunk if carry else chunk
            if not chunk:
                if buffer.strip():
                    batch = _batch(record, buffer.rstrip(b"\r\n"))
                    if batch.count:
                        yield batch
                return
            cut = buffer.rfind(b"\n")
            if cut < 0:
                if len(buffer) >= max_bytes:
                    raise JobFailedError(
                        f"record {record} of {name or path.name} is larger than MaxPayloadInMB ({max_bytes / 1e6:g} MB); "
                        "raise transform_max_payload_mb"
                    )
                carry = buffer
                continue
            carry = buffer[cut + 1 :]
            batch = _batch(record, buffer[:cut])
            if batch.count:
                record += batch.count
                yield batch


def _count_before(path: Path, offset: int) -> tuple[int, int]:
    """Newlines, and empty lines, in the bytes of ``path`` before ``offset``; read in blocks, so
    memory stays flat. Only an error's message needs these (the split does not count)."""
    lines, empty, previous, left = 0, 0, ord("\n"), offset  # before the file: as if after a newline
    with path.open("rb") as handle:
        while left > 0:
            block = handle.read(min(left, 8 << 20))
            if not block:
                break
            empty += (1 if previous == ord("\n") and block[0] == ord("\n") else 0) + len(_EMPTY_LINE.findall(block))
            lines += block.count(b"\n")
            previous, left = block[-1], left - len(block)
    return lines, empty


def lines_before(path: Path, offset: int) -> int:
    """Lines of ``path`` that end before byte ``offset``."""
    return _count_before(path, offset)[0]


def records_before(path: Path, offset: int) -> int:
    """Records (non-empty lines) of ``path`` before byte ``offset`` (a line boundary): a split part's
    place in its file, counted only when an error names a record."""
    lines, empty = _count_before(path, offset)
    return lines - empty
