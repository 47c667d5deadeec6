"""A local job's input objects, and how their outputs become the job's ``.out`` files.

Files are used as they are, one object each, as the objects under an S3 prefix. A single input
file is cut into parts on line boundaries first (the same cutter the SageMaker backend streams to
S3), so every instance gets work; locally a part is a byte range of the file, read in place, not
a copy. Each object is transformed into a temp file; when the whole job succeeded, a split
file's part outputs are joined in input order into one temp file and every final file is renamed
into place. A failed job renames nothing: no ``.out`` is left looking complete.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ml.backends.local.transform.job import InputObject
from ml.backends.split.contract import InputContract
from ml.backends.split.cutter import CHUNK_BYTES, LineCutter, part_count, part_name, pieces


@dataclass(frozen=True, kw_only=True)
class Output:
    final: Path  # the job's .out file
    temps: tuple[Path, ...]  # the objects' outputs it is made of, in input order


@dataclass(frozen=True, kw_only=True)
class Plan:
    objects: tuple[InputObject, ...]
    outputs: tuple[Output, ...]
    header: bytes = b""  # a split file's header, held back out of the parts (the data contract)

    @property
    def split(self) -> bool:
        return any(len(o.temps) > 1 for o in self.outputs)


def output_path(source: Path, output_dir: Path) -> Path:
    return output_dir / f"{source.name}.out"


def temp_path(final: Path, job_name: str, part: str = "") -> Path:
    return final.with_name(f".{final.name}{'.' + part if part else ''}.{job_name}.tmp")


def temp_pattern(job_name: str) -> str:
    """A glob for the temp outputs of ``job_name`` (what a killed run leaves behind)."""
    return f".*.{job_name}.tmp"


def plan(inputs: list[Path], *, single_file: bool, parts: int, output_dir: Path, job_name: str, contract: InputContract) -> Plan:
    """Every file as one object; a single input file (not a folder) in ``parts`` parts when ``parts`` > 1."""
    if single_file and parts > 1:
        return _split(inputs[0], parts=parts, output_dir=output_dir, job_name=job_name, contract=contract)
    objects, outputs = [], []
    for source in inputs:
        final = output_path(source, output_dir)
        temp = temp_path(final, job_name)
        objects.append(InputObject(name=source.name, path=source, output=temp))
        outputs.append(Output(final=final, temps=(temp,)))
    return Plan(objects=tuple(objects), outputs=tuple(outputs))


def _split(source: Path, *, parts: int, output_dir: Path, job_name: str, contract: InputContract) -> Plan:
    size = source.stat().st_size
    final = output_path(source, output_dir)
    cutter = LineCutter(size=size, parts=part_count(size=size, wanted=parts), source=source.name, contract=contract)
    spans: dict[int, list[int]] = {}  # part -> [start, end, first record]
    for piece in pieces(cutter, _chunks(source)):
        span = spans.setdefault(piece.part, [piece.offset, 0, piece.first_record])
        span[1] = piece.offset + len(piece.data)
    if len(spans) < 2:  # one record, or none: nothing to spread, the file is used as it is
        return plan([source], single_file=False, parts=0, output_dir=output_dir, job_name=job_name, contract=contract)
    objects = []
    for index, (start, end, record) in sorted(spans.items()):
        part = part_name(index)
        output = temp_path(final, job_name, part)
        objects.append(InputObject(name=source.name, path=source, output=output, part=part, start=start, end=end, first_record=record))
    return Plan(objects=tuple(objects), outputs=(Output(final=final, temps=tuple(o.output for o in objects)),), header=cutter.header)


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


def commit(plan: Plan, *, job_name: str) -> None:
    """Join each split output's parts (in input order), then rename every output into place."""
    ready = []
    for output in plan.outputs:
        if len(output.temps) == 1:
            ready.append((output.temps[0], output.final))
            continue
        joined = temp_path(output.final, job_name)
        _join(output.temps, joined)
        ready.append((joined, output.final))
    for temp, final in ready:
        os.replace(temp, final)


def _join(parts: tuple[Path, ...], into: Path) -> None:
    """Concatenate ``parts`` into ``into``, in the kernel where it can (no copy through Python)."""
    with into.open("wb") as out:
        for part in parts:
            with part.open("rb") as source:
                size = os.fstat(source.fileno()).st_size
                try:
                    copied = 0
                    while copied < size:
                        sent = os.copy_file_range(source.fileno(), out.fileno(), size - copied)
                        if sent == 0:
                            break
                        copied += sent
                except OSError:  # a file system without copy_file_range: copy it the plain way
                    source.seek(copied)
                    out.seek(0, os.SEEK_END)
                    shutil.copyfileobj(source, out, 1 << 20)
            part.unlink()


def discard(plan: Plan, *, job_name: str) -> None:
    """Delete every temp output of a job that did not complete."""
    for output in plan.outputs:
        for temp in (*output.temps, temp_path(output.final, job_name)):
            temp.unlink(missing_ok=True)
