"""Batch transform across instances on AWS: split one input object before the job, join after it.

SageMaker "partitions the Amazon S3 objects in the input by key and maps Amazon S3 objects to
instances"; with one input file "only one instance processes the input file and the rest of the
instances are idle" (guide, "Batch transform for inference"). So a single input object is split
on line boundaries into parts under ``transform-splits/<job base>/input/`` in the data lake,
streamed from the source to the parts (never the whole object in memory), and the job runs over
that prefix. "For every S3 object used as input ... batch transform stores the transformed data
with an .out suffix" and "The number of output files is equal to the number of input files"
(TransformOutput, batch transform guide): the parts' ``.out`` objects are joined back, in input
order, into the one ``<input>.out`` an unsplit job would have written. The join is a multipart
upload that completes only when every part is in, so a failed join leaves no output at all.

A manifest, written after the last part, records the parts; a re-run finds it and reuses them.
After a successful join the parts, their outputs and the manifest are deleted (by version, so
no copy lingers as a noncurrent version).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ClientError

from ml.backends.sagemaker.aws_errors import aws_call, is_not_found
from ml.backends.sagemaker.s3stream import MultipartWriter, read_chunks
from ml.backends.split.contract import InputContract
from ml.backends.split.cutter import LineCutter, part_count, part_name, pieces
from ml.errors import JobFailedError
from ml.names import TRANSFORM_SPLITS_PREFIX

OUT = ".out"


@dataclass(frozen=True, kw_only=True)
class Part:
    name: str  # part-00001.csv: sorting by key keeps input order
    key: str
    version: str
    first_record: int  # its first record's number in the source


@dataclass(frozen=True, kw_only=True)
class Manifest:
    source: str  # s3:// URI of the split object
    source_version: str
    parts: tuple[Part, ...]
    version: str = ""  # the manifest object's own version

    def records(self, index: int) -> str:
        """``records N-M`` (or ``records from N``, for the last part) of the source a part holds."""
        first = self.parts[index].first_record
        if index + 1 < len(self.parts):
            return f"records {first}-{self.parts[index + 1].first_record - 1}"
        return f"records from {first}"


@dataclass(frozen=True, kw_only=True)
class Split:
    """Where the split of one source object for one job base lives in the data lake."""

    bucket: str
    base: str  # the transform job's base name: one split per source version, part count and job settings

    @property
    def root(self) -> str:
        return f"{TRANSFORM_SPLITS_PREFIX}/{self.base}/"

    @property
    def input_prefix(self) -> str:
        return f"{self.root}input/"

    @property
    def input_uri(self) -> str:
        return f"s3://{self.bucket}/{self.input_prefix}"

    @property
    def manifest_key(self) -> str:
        return f"{self.root}manifest.json"  # beside the parts, not among them: no job reads it

    def output_prefix(self, job_name: str) -> str:
        return f"{self.root}output/{job_name}/"


def split_object(s3: Any, split: Split, *, bucket: str, key: str, version: str, size: int, parts: int) -> Manifest:
    """The source object in parts under ``split.input_prefix`` (or the parts an earlier run made)."""
    source = f"s3://{bucket}/{key}"
    found = read_manifest(s3, split)
    if found is not None and (found.source, found.source_version) == (source, version):
        return found
    cutter = LineCutter(size=size, parts=part_count(size=size, wanted=parts), source=source, contract=InputContract.current())
    written: list[Part] = []
    writer: MultipartWriter | None = None
    first_record = 1
    try:
        for piece in pieces(cutter, read_chunks(s3, bucket=bucket, key=key, version=version or None)):
            if writer is None or piece.part != len(written):
                if writer is not None:
                    writer.close()
                    written.append(Part(name=part_name(len(written)), key=writer.key, version=writer.version, first_record=first_record))
                name, first_record = part_name(piece.part), piece.first_record
                writer = MultipartWriter(s3, bucket=split.bucket, key=split.input_prefix + name, expected_size=size // max(parts, 1))
            writer.write(piece.data)
        if writer is not None:
            writer.close()
            written.append(Part(name=part_name(len(written)), key=writer.key, version=writer.version, first_record=first_record))
    except BaseException:
        # Refused (a record no split can keep whole) or failed half-way: nothing of it is kept.
        if writer is not None:
            writer.abort()
        _delete(s3, split, [{"Key": p.key, **({"VersionId": p.version} if p.version else {})} for p in written])
        raise
    return _write_manifest(s3, split, Manifest(source=source, source_version=version, parts=tuple(written)))


def read_manifest(s3: Any, split: Split) -> Manifest | None:
    with aws_call(service="s3", action=f"reading the split manifest s3://{split.bucket}/{split.manifest_key}"):
        try:
            reply = s3.get_object(Bucket=split.bucket, Key=split.manifest_key)
        except ClientError as err:
            if is_not_found(err):
                return None
            raise
        data = json.loads(reply["Body"].read())
    parts = tuple(Part(**p) for p in data["parts"])
    return Manifest(source=data["source"], source_version=data["source_version"], parts=parts, version=str(reply.get("VersionId") or ""))


def _write_manifest(s3: Any, split: Split, manifest: Manifest) -> Manifest:
    body = json.dumps({"source": manifest.source, "source_version": manifest.source_version, "parts": [asdict(p) for p in manifest.parts]})
    with aws_call(service="s3", action=f"writing the split manifest s3://{split.bucket}/{split.manifest_key}"):
        put = s3.put_object(Bucket=split.bucket, Key=split.manifest_key, Body=body.encode(), ContentType="application/json")
    return Manifest(
        source=manifest.source, source_version=manifest.source_version, parts=manifest.parts, version=str(put.get("VersionId") or "")
    )


def part_outputs(s3: Any, split: Split, job_name: str) -> dict[str, str]:
    """Each part's ``.out`` key by part name: what the job wrote (parts that failed have none)."""
    prefix = split.output_prefix(job_name)
    found: dict[str, str] = {}
    with aws_call(service="s3", action=f"listing the part outputs under s3://{split.bucket}/{prefix}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=split.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                if name.endswith(OUT):  # under a subfolder or not: AWS's examples differ on that
                    found[name.removesuffix(OUT)] = item["Key"]
    return found


def missing_parts(s3: Any, split: Split, manifest: Manifest, job_name: str) -> list[int]:
    """Indexes of the parts with no ``.out``: "it creates an .out file only if the transform job
    succeeds on the entire file" (TransformOutput), so these are the parts that failed."""
    outputs = part_outputs(s3, split, job_name)
    return [k for k, part in enumerate(manifest.parts) if part.name not in outputs]


def join_outputs(s3: Any, split: Split, manifest: Manifest, job_name: str, *, bucket: str, key: str) -> str:
    """Concatenate the parts' ``.out`` in input order into ``s3://bucket/key``; return its URI."""
    outputs = part_outputs(s3, split, job_name)
    missing = [p.name for p in manifest.parts if p.name not in outputs]
    if missing:
        where = f"s3://{split.bucket}/{split.output_prefix(job_name)}"
        raise JobFailedError(
            f"the transform job {job_name} left no output for {', '.join(missing)} under {where}; "
            "re-run `invoke deploy --mode transform` to transform the input again"
        )
    sizes = {name: _size(s3, split.bucket, outputs[name]) for name in outputs}
    writer = MultipartWriter(s3, bucket=bucket, key=key, expected_size=sum(sizes.values()))
    try:
        for part in manifest.parts:
            # AssembleWith=Line ends every record with a newline, so the parts simply follow each other.
            for chunk in read_chunks(s3, bucket=split.bucket, key=outputs[part.name]):
                writer.write(chunk)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return f"s3://{bucket}/{key}"


def _size(s3: Any, bucket: str, key: str) -> int:
    with aws_call(service="s3", action=f"reading the size of s3://{bucket}/{key}"):
        return int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])


def clean_up(s3: Any, split: Split, manifest: Manifest, job_name: str) -> None:
    """Delete the parts, their outputs and the manifest, by version: nothing of the split is kept."""
    doomed = [{"Key": p.key, **({"VersionId": p.version} if p.version else {})} for p in manifest.parts]
    doomed += list(_output_versions(s3, split, job_name))
    doomed.append({"Key": split.manifest_key, **({"VersionId": manifest.version} if manifest.version else {})})
    _delete(s3, split, doomed)


def _delete(s3: Any, split: Split, doomed: list[dict[str, str]]) -> None:
    with aws_call(service="s3", action=f"deleting the split under s3://{split.bucket}/{split.root}"):
        for start in range(0, len(doomed), 1000):  # DeleteObjects takes at most 1,000 keys
            s3.delete_objects(Bucket=split.bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True})


def _output_versions(s3: Any, split: Split, job_name: str) -> Iterator[dict[str, str]]:
    for key in part_outputs(s3, split, job_name).values():
        with aws_call(service="s3", action=f"reading the version of s3://{split.bucket}/{key}"):
            version = s3.head_object(Bucket=split.bucket, Key=key).get("VersionId")
        yield {"Key": key, **({"VersionId": str(version)} if version and version != "null" else {})}
