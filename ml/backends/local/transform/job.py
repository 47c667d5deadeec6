"""One transform instance's work: its input objects, in order, through its own model server.

An object is a whole input file or one part of a split file (a byte range of it). Mini-batches go
out ``MaxConcurrentTransforms`` at a time, as SageMaker sends at most that many requests to each
instance, and come back in order, so at most that many batches (and their answers) are in memory
at once. Batches never combine records of two objects ("SageMaker processes each input file
separately"), but the window of requests in flight runs on from one object into the next. Each
object's answers go to its own output file; the runner renames (or joins) them only when every
instance succeeded, so a failed job leaves no ``.out`` behind, only a failure reason that names
the object, the record and what the model server said.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ml.backends.local.transform import filters
from ml.backends.local.transform.batches import Batch, read_batches, records_before
from ml.backends.local.transform.client import Answer, InvocationsClient
from ml.errors import JobFailedError

MAX_BISECT_REQUESTS = 48


@dataclass(frozen=True, kw_only=True)
class Settings:
    max_payload_mb: int
    max_concurrent: int
    input_filter: filters.Selector
    output_filter: filters.Selector
    join_input: bool
    # serve workers per instance; None: the cores the client leaves, shared out over the
    # instances, at most max_concurrent each (each worker costs ~30-60 MB of RSS)
    server_workers: int | None = None
    instances: int = 1  # model servers, as SageMaker's InstanceCount
    split_parts: int = 0  # a single input file is cut into this many parts first; 0 or 1: not split


@dataclass(frozen=True, kw_only=True)
class InputObject:
    """What one instance transforms at a time: a file, or the bytes ``start``-``end`` of one."""

    name: str  # the file's name
    path: Path
    output: Path  # its answers, in record order (a temp file until the job completes)
    part: str = ""  # a split file's part: its name; errors name it too
    start: int = 0
    end: int | None = None
    first_record: int = 1  # the part's first record's number in the file; 0: not counted yet

    @property
    def label(self) -> str:
        """The file, and the part when it is one: what an error about its records names."""
        return f"{self.name} ({self.part})" if self.part else self.name

    def record(self, number: int) -> int:
        """Record ``number`` of this object (batches count from ``first_record``, or 1) as the file's record number."""
        return number + records_before(self.path, self.start) if not self.first_record else number


class Stopped(Exception):
    """Another instance failed: this one stops at its next mini-batch."""


def transform_objects(objects: Sequence[InputObject], *, client: InvocationsClient, settings: Settings, stop: threading.Event) -> int:
    """Transform ``objects`` in order through ``client``'s server; return the records transformed."""
    with ThreadPoolExecutor(max_workers=settings.max_concurrent, thread_name_prefix="transform") as pool:
        return _Pipeline(client=client, settings=settings, pool=pool, stop=stop).run(objects)


class _Pipeline:
    def __init__(self, *, client: InvocationsClient, settings: Settings, pool: ThreadPoolExecutor, stop: threading.Event) -> None:
        self._client, self._settings, self._pool, self._stop = client, settings, pool, stop
        self._pending: deque[tuple[int, Batch, bytes, Future[Answer]]] = deque()
        # Open outputs in the order first used. Objects sharing one (the consecutive parts of a
        # split file) follow each other into it; an output is closed once its batches are written.
        self._open: dict[Path, BinaryIO] = {}
        self._objects: Sequence[InputObject] = ()
        self.records = 0

    def run(self, objects: Sequence[InputObject]) -> int:
        self._objects = objects
        try:
            for index, item in enumerate(objects):
                if item.output not in self._open:
                    self._open[item.output] = item.output.open("wb")
                self._read(index, item)
            while self._pending:
                self._finish()
        finally:
            for handle in self._open.values():
                handle.close()
        return self.records

    def _read(self, index: int, item: InputObject) -> None:
        max_bytes = self._settings.max_payload_mb * 1_000_000
        batches = read_batches(
            item.path,
            max_bytes=max_bytes,
            start=item.start,
            end=item.end,
            first_record=item.first_record or 1,
            name=f"{item.part} of {item.name}" if item.part and not item.first_record else item.label,
        )
        for batch in batches:
            if self._stop.is_set():
                raise Stopped
            sent = filters.apply(self._settings.input_filter, batch.data, batch.count)
            self._pending.append((index, batch, sent, self._pool.submit(self._client.post, sent)))
            if len(self._pending) >= self._settings.max_concurrent:
                self._finish()

    def _finish(self) -> None:
        index, batch, sent, future = self._pending.popleft()
        item = self._objects[index]
        for path in list(self._open):
            if path == item.output:
                break
            self._open.pop(path).close()  # FIFO: every batch of an earlier output is written
        out = self._open[item.output]
        out.write(_collect(item, batch, sent, future.result(), client=self._client, settings=self._settings))
        out.write(b"\n")  # a second write, not a copy of the whole batch to add one byte
        self.records += batch.count


def _collect(item: InputObject, batch: Batch, sent: bytes, answer: Answer, *, client: InvocationsClient, settings: Settings) -> bytes:
    if answer.status != 200:
        raise JobFailedError(_locate(item, batch, sent, answer, client))
    body = answer.body.rstrip(b"\n")
    # Counted, not split: without a join the answer is written as it came, no object per line.
    answered = body.count(b"\n") + 1 if body.strip() else 0
    if answered != batch.count:
        raise JobFailedError(
            f"{item.label} records {item.record(batch.first)}-{item.record(batch.last)}: the model server returned {answered} predictions "
            f"for {batch.count} records; it must answer one line per input line"
        )
    joined = filters.join(batch.data, body) if settings.join_input else body
    return filters.apply(settings.output_filter, joined, batch.count)


def _locate(item: InputObject, batch: Batch, sent: bytes, answer: Answer, client: InvocationsClient) -> str:
    """Bisect a rejected mini-batch down to the first record the model server refuses."""
    reason = _reason(answer)
    lines = sent.split(b"\n")
    first, budget = batch.first, MAX_BISECT_REQUESTS
    while len(lines) > 1 and budget > 0:
        half = len(lines) // 2
        probe = client.post(b"\n".join(lines[:half]))
        budget -= 1
        if probe.status != 200:
            lines, reason = lines[:half], _reason(probe)
        else:
            lines, first = lines[half:], first + half
    if len(lines) == 1 and (budget == MAX_BISECT_REQUESTS or client.post(lines[0]).status != 200):
        shown = lines[0][:80].decode(errors="replace")
        part = f" in {item.part}" if item.part else ""
        return (
            f"{item.name} record {item.record(first)}{part} ({shown!r}, after the input filter) was rejected by the model server: {reason}"
        )
    return f"{item.label} records {item.record(batch.first)}-{item.record(batch.last)} were rejected by the model server: {reason}"


def _reason(answer: Answer) -> str:
    text = answer.body.decode(errors="replace").strip().splitlines()
    return f"HTTP {answer.status}: {text[-1][:300] if text else 'no message'}"
