"""Streaming a CSV file as MultiRecord mini-batches of whole lines, each at most ``max_bytes``.

Memory is bounded by one read buffer per batch, whatever the file's size: this is what keeps a
10-million-row transform as small as a thousand-row one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ml.errors import JobFailedError


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


def read_batches(path: Path, *, max_bytes: int) -> Iterator[Batch]:
    record = 1
    carry = b""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(max_bytes - len(carry))
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
                        f"record {record} of {path.name} is larger than MaxPayloadInMB ({max_bytes / 1e6:g} MB); "
                        "raise transform_max_payload_mb"
                    )
                carry = buffer
                continue
            carry = buffer[cut + 1 :]
            batch = _batch(record, buffer[:cut])
            if batch.count:
                record += batch.count
                yield batch
