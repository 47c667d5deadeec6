"""A batch transform job: every input file through one serve process, into ``<file>.out``.

Mini-batches go out ``MaxConcurrentTransforms`` at a time and come back in order, so at most
that many batches (and their answers) are in memory at once. Output is written to a temp file
and renamed only when every file succeeded: a failed job leaves no ``.out`` behind, only a
failure reason that names the file, the record and what the model server said.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ml.backends.local.transform import filters
from ml.backends.local.transform.batches import Batch, read_batches
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
    # serve workers; None: one per core up to max_concurrent (each worker costs ~180 MB of RSS)
    server_workers: int | None = None


def output_path(source: Path, output_dir: Path) -> Path:
    return output_dir / f"{source.name}.out"


def temp_path(final: Path, job_name: str) -> Path:
    return final.with_name(f".{final.name}.{job_name}.tmp")


def temp_pattern(job_name: str) -> str:
    """A glob for the temp outputs of ``job_name`` (what a killed run leaves behind)."""
    return f".*.{job_name}.tmp"


def transform_files(*, inputs: list[Path], output_dir: Path, client: InvocationsClient, settings: Settings, job_name: str) -> int:
    """Transform every file; return the record count. All ``.out`` files appear together or not at all."""
    output_dir.mkdir(parents=True, exist_ok=True)
    temps: list[tuple[Path, Path]] = []
    total = 0
    try:
        with ThreadPoolExecutor(max_workers=settings.max_concurrent, thread_name_prefix="transform") as pool:
            for source in inputs:
                final = output_path(source, output_dir)
                temp = temp_path(final, job_name)
                temps.append((temp, final))
                with temp.open("wb") as out:
                    total += _one_file(source, out.write, pool, client, settings)
        for temp, final in temps:
            os.replace(temp, final)
    finally:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)
    return total


def _one_file(
    source: Path, write: Callable[[bytes], object], pool: ThreadPoolExecutor, client: InvocationsClient, settings: Settings
) -> int:
    pending: deque[tuple[Batch, bytes, Future[Answer]]] = deque()
    records = 0

    def finish() -> None:
        nonlocal records
        batch, sent, future = pending.popleft()
        write(_collect(source, batch, sent, future.result(), client=client, settings=settings))
        write(b"\n")  # a second write, not a copy of the whole batch to add one byte
        records += batch.count

    for batch in read_batches(source, max_bytes=settings.max_payload_mb * 1_000_000):
        sent = filters.apply(settings.input_filter, batch.data, batch.count)
        pending.append((batch, sent, pool.submit(client.post, sent)))
        if len(pending) >= settings.max_concurrent:
            finish()
    while pending:
        finish()
    return records


def _collect(source: Path, batch: Batch, sent: bytes, answer: Answer, *, client: InvocationsClient, settings: Settings) -> bytes:
    if answer.status != 200:
        raise JobFailedError(_locate(source, batch, sent, answer, client))
    body = answer.body.rstrip(b"\n")
    # Counted, not split: without a join the answer is written as it came, no object per line.
    answered = body.count(b"\n") + 1 if body.strip() else 0
    if answered != batch.count:
        raise JobFailedError(
            f"{source.name} records {batch.first}-{batch.last}: the model server returned {answered} predictions "
            f"for {batch.count} records; it must answer one line per input line"
        )
    joined = filters.join(batch.data, body) if settings.join_input else body
    return filters.apply(settings.output_filter, joined, batch.count)


def _locate(source: Path, batch: Batch, sent: bytes, answer: Answer, client: InvocationsClient) -> str:
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
        return f"{source.name} record {first} ({shown!r}, after the input filter) was rejected by the model server: {reason}"
    return f"{source.name} records {batch.first}-{batch.last} were rejected by the model server: {reason}"


def _reason(answer: Answer) -> str:
    text = answer.body.decode(errors="replace").strip().splitlines()
    return f"HTTP {answer.status}: {text[-1][:300] if text else 'no message'}"
