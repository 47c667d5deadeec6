"""A local job's input objects, which instance runs which, and how their outputs become ``.out`` files.

Files are used as they are, one object each, as the objects under an S3 prefix. A single input
file is cut into parts on line boundaries first (the same cutter the SageMaker backend streams to
S3), so every instance gets work; locally a part is a byte range of the file, read in place, never
a copy (finding the cut points is one read of the file in 8 MiB blocks, counting nothing). The objects are spread over the instances as
SageMaker spreads S3 objects (:mod:`ml.backends.split.spread`): each instance gets a contiguous
run, so the parts one instance runs are also contiguous in its file, and it writes them into one
temp file. When the whole job succeeded, a split file's instance outputs are joined in input
order (one instance: nothing to join) and every final file is renamed into place. A failed job
renames nothing: no ``.out`` is left looking complete.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ml.backends.local.transform.batches import lines_before
from ml.backends.local.transform.job import InputObject
from ml.backends.split.contract import InputContract
from ml.backends.split.cutter import CHUNK_BYTES, LineCutter, part_count, part_name, pieces
from ml.backends.split.spread import spread


@dataclass(frozen=True, kw_only=True)
class Output:
    final: Path  # the job's .out file
    temps: tuple[Path, ...]  # the temp files it is made of, in input order


@dataclass(frozen=True, kw_only=True)
class Plan:
    objects: tuple[InputObject, ...]  # in key order; ``output`` is set by :func:`assign`
    finals: tuple[Path, ...]  # each object's final .out (a split file's parts share theirs)
    split: bool = False
    header: bytes = b""  # a split file's header, held back out of the parts (the data contract)


@dataclass(frozen=True, kw_only=True)
class Assignment:
    runs: tuple[tuple[InputObject, ...], ...]  # each instance's objects, in order, outputs set
    outputs: tuple[Output, ...]


def output_path(source: Path, output_dir: Path) -> Path:
    return output_dir / f"{source.name}.out"


def temp_path(final: Path, job_name: str, part: str = "") -> Path:
    return final.with_name(f".{final.name}{'.' + part if part else ''}.{job_name}.tmp")


def temp_pattern(job_name: str) -> str:
    """A glob for the temp outputs of ``job_name`` (what a killed run leaves behind)."""
    return f".*.{job_name}.tmp"


def plan(inputs: list[Path], *, single_file: bool, parts: int, output_dir: Path, contract: InputContract) -> Plan:
    """Every file as one object; a single input file (not a folder) in ``parts`` parts when ``parts`` > 1."""
    if single_file and parts > 1:
        split = _split(inputs[0], parts=parts, output_dir=output_dir, contract=contract)
        if split is not None:
            return split
    objects = tuple(InputObject(name=source.name, path=source, output=output_path(source, output_dir)) for source in inputs)
    return Plan(objects=objects, finals=tuple(o.output for o in objects))


def _split(source: Path, *, parts: int, output_dir: Path, contract: InputContract) -> Plan | None:
    """The file's parts as byte ranges (``None`` when it holds fewer than two records)."""
    size = source.stat().st_size
    if size == 0:
        return None
    spans: dict[int, list[int]] = {}  # part -> [start, end]
    cutter = LineCutter(
        size=size,
        parts=part_count(size=size, wanted=parts),
        source=source.name,
        contract=contract,
        count=False,
        lines_before=lambda offset: lines_before(source, offset),
    )
    for piece in pieces(cutter, _chunks(source)):
        spans.setdefault(piece.part, [piece.offset, 0])[1] = piece.offset + piece.size
    if len(spans) < 2:  # one record, or none: nothing to spread, the file is used as it is
        return None
    final = output_path(source, output_dir)
    objects = tuple(
        InputObject(name=source.name, path=source, output=final, part=part_name(k), start=start, end=end, first_record=0)
        for k, (start, end) in sorted(spans.items())
    )
    return Plan(objects=objects, finals=(final,) * len(objects), split=True, header=cutter.header)


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


def assign(plan: Plan, *, instances: int, job_name: str) -> Assignment:
    """Spread the objects over ``instances`` and give each its temp output: one per file, or, for a
    split file, one per instance (its parts are contiguous in the file, so they follow each other)."""
    runs = spread(list(zip(plan.objects, plan.finals, strict=True)), instances=instances)
    temps: dict[Path, list[Path]] = {final: [] for final in dict.fromkeys(plan.finals)}
    assigned = []
    for k, run in enumerate(runs):
        objects = []
        for item, final in run:
            temp = temp_path(final, job_name, f"instance-{k + 1}" if plan.split else "")
            if not temps[final] or temps[final][-1] != temp:
                temps[final].append(temp)
            objects.append(dataclasses.replace(item, output=temp))
        assigned.append(tuple(objects))
    return Assignment(runs=tuple(assigned), outputs=tuple(Output(final=f, temps=tuple(t)) for f, t in temps.items()))


def commit(outputs: tuple[Output, ...]) -> None:
    """Join each output's temps (in input order) into its first, then rename every output into place."""
    for output in outputs:
        _append(output.temps[0], output.temps[1:])
    for output in outputs:
        os.replace(output.temps[0], output.final)


def _append(into: Path, parts: tuple[Path, ...]) -> None:
    """Append ``parts`` to ``into``, in the kernel where it can (no copy through Python)."""
    if not parts:
        return
    with into.open("r+b") as out:  # not "ab": copy_file_range refuses a file opened for appending
        out.seek(0, os.SEEK_END)
        for part in parts:
            with part.open("rb") as source:
                size, copied = os.fstat(source.fileno()).st_size, 0
                try:
                    while copied < size:
                        sent = os.copy_file_range(source.fileno(), out.fileno(), size - copied)
                        if sent == 0:
                            break
                        copied += sent
                except OSError:  # a file system without copy_file_range: copy it the plain way
                    source.seek(copied)
                    shutil.copyfileobj(source, out, 1 << 20)
            part.unlink()


def discard(outputs: tuple[Output, ...]) -> None:
    """Delete every temp output of a job that did not complete."""
    for output in outputs:
        for temp in output.temps:
            temp.unlink(missing_ok=True)
