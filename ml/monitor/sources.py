"""Where captured files are: a local directory or an S3 prefix, in SageMaker's layout.

``<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl``: both sources list the variants of
an endpoint and, per variant, the files of each hour of a window, and hand each file's lines
over one at a time (S3 bodies are read in chunks, never whole).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ml.errors import AwsError
from ml.monitor.window import Window

CAPTURE_SUFFIX = ".jsonl"


@dataclass(frozen=True, kw_only=True)
class CaptureFile:
    name: str  # a path or s3:// URI, for error messages
    lines: Iterator[bytes]


class CaptureSource(Protocol):
    def describe(self) -> str: ...

    def variants(self, endpoint: str) -> list[str]: ...

    def files(self, endpoint: str, variant: str, window: Window) -> Iterator[CaptureFile]: ...


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from handle


@dataclass(frozen=True, kw_only=True)
class LocalCapture:
    root: Path  # the directory that plays the capture prefix's part

    def describe(self) -> str:
        return str(self.root)

    def variants(self, endpoint: str) -> list[str]:
        folder = self.root / endpoint
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def files(self, endpoint: str, variant: str, window: Window) -> Iterator[CaptureFile]:
        for hour in window.hours():
            folder = self.root / endpoint / variant / f"{hour:%Y/%m/%d/%H}"
            if folder.is_dir():
                for path in sorted(folder.glob(f"*{CAPTURE_SUFFIX}")):
                    yield CaptureFile(name=str(path), lines=_lines(path))


@dataclass(frozen=True, kw_only=True)
class S3Capture:
    client: Any  # a boto3 S3 client
    bucket: str
    prefix: str  # the capture prefix, without a trailing '/'

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _pages(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        try:
            yield from self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, **kwargs)
        except (ClientError, BotoCoreError) as err:
            raise AwsError(f"cannot list s3://{self.bucket}/{kwargs.get('Prefix', '')}: {err}") from err

    def variants(self, endpoint: str) -> list[str]:
        base = f"{self.prefix}/{endpoint}/"
        names = (
            p["Prefix"][len(base) :].rstrip("/") for page in self._pages(Prefix=base, Delimiter="/") for p in page.get("CommonPrefixes", [])
        )
        return sorted(names)

    def _lines(self, key: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except (ClientError, BotoCoreError) as err:
            raise AwsError(f"cannot read s3://{self.bucket}/{key}: {err}") from err
        try:
            yield from body.iter_lines(chunk_size=1 << 16)
        finally:
            body.close()

    def files(self, endpoint: str, variant: str, window: Window) -> Iterator[CaptureFile]:
        for hour in window.hours():
            prefix = f"{self.prefix}/{endpoint}/{variant}/{hour:%Y/%m/%d/%H}/"
            for page in self._pages(Prefix=prefix):
                for item in page.get("Contents", []):
                    if item["Key"].endswith(CAPTURE_SUFFIX):
                        yield CaptureFile(name=f"s3://{self.bucket}/{item['Key']}", lines=self._lines(item["Key"]))
