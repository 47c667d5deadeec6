"""How big the S3 data a job reads is, found before the job must hold it: an object, a prefix."""

from __future__ import annotations

from typing import Any

from ml.backends.sagemaker.aws_errors import aws_call

GIB = 1 << 30  # SageMaker sizes ML storage volumes (EBS) in GiB


def object_size(s3: Any, *, bucket: str, key: str, version: str = "") -> int:
    """Bytes of one object (of ``version`` when it names one: the version the job records)."""
    extra = {"VersionId": version} if version and not version.startswith("etag:") and version != "prefix" else {}
    with aws_call(service="s3", action=f"reading the size of s3://{bucket}/{key}"):
        return int(s3.head_object(Bucket=bucket, Key=key, **extra)["ContentLength"])


def data_size(s3: Any, *, bucket: str, key: str) -> int:
    """Bytes a channel copies onto the training volume: the object, or every object under the prefix."""
    uri = f"s3://{bucket}/{key}"
    if not key.endswith("/"):
        return object_size(s3, bucket=bucket, key=key)
    total = 0
    with aws_call(service="s3", action=f"listing {uri} to size the training data"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
            total += sum(int(item["Size"]) for item in page.get("Contents", []))
    return total


def volume_problem(*, data_bytes: int, volume_gb: int, uris: list[str]) -> str | None:
    """Why a data set does not fit the training volume, or ``None``. File mode copies every channel
    onto the ML storage volume before the algorithm starts (ResourceConfig.VolumeSizeInGB)."""
    volume_bytes = volume_gb * GIB
    if data_bytes <= volume_bytes:
        return None
    needed = -(-data_bytes // GIB) + 1  # the data, and room for the model and checkpoints beside it
    return (
        f"the training data ({', '.join(uris)}) is {data_bytes / GIB:,.2f} GB, larger than the training volume of "
        f"{volume_gb} GB (training_volume_size_gb): SageMaker copies the data onto that volume in File mode, so the job would fail; "
        f"raise training_volume_size_gb in cdktf.json to at least {needed}"
    )
