"""S3 objects as streams: read one in chunks, write one through a multipart upload.

Neither holds an object in memory: a read yields the body a chunk at a time, and a write keeps one
part's buffer, uploading it as soon as it is full. An object written this way appears only when
the upload completes ("When you complete a multipart upload, Amazon S3 creates an object by
concatenating the parts in ascending order based on the part number", S3 User Guide); a failed
write aborts the upload, so no reader ever sees half of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ml.backends.sagemaker.aws_errors import aws_call

CHUNK_BYTES = 8 << 20
MIN_PART_BYTES = 8 << 20  # S3: every part but the last is at least 5 MiB
MAX_PARTS = 10_000  # S3: a multipart upload has at most 10,000 parts


def part_bytes(expected_size: int) -> int:
    """The part size that fits an object of about ``expected_size`` bytes into S3's 10,000 parts
    (with room to spare): 8 MiB until 78 GiB, then larger; the buffer a write holds."""
    return max(MIN_PART_BYTES, -(-expected_size // (MAX_PARTS - 1000)))


def read_chunks(s3: Any, *, bucket: str, key: str, version: str | None = None) -> Iterator[bytes]:
    """The object's body, ``CHUNK_BYTES`` at a time (a version when given: what was checked is what is read)."""
    extra = {"VersionId": version} if version else {}
    with aws_call(service="s3", action=f"reading s3://{bucket}/{key}"):
        body = s3.get_object(Bucket=bucket, Key=key, **extra)["Body"]
    try:
        with aws_call(service="s3", action=f"reading s3://{bucket}/{key}"):
            yield from body.iter_chunks(CHUNK_BYTES)
    finally:
        body.close()


class MultipartWriter:
    """Write an object in parts; :meth:`close` completes it, :meth:`abort` leaves nothing behind."""

    def __init__(self, s3: Any, *, bucket: str, key: str, expected_size: int = 0) -> None:
        self._s3, self.bucket, self.key = s3, bucket, key
        self._part_bytes = part_bytes(expected_size)
        self._buffer = bytearray()
        self._upload_id = ""
        self._parts: list[dict[str, Any]] = []
        self.size = 0
        self.version = ""  # the written object's version, once closed (versioned buckets)

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= self._part_bytes:
            self._upload(bytes(self._buffer[: self._part_bytes]))
            del self._buffer[: self._part_bytes]

    def _upload(self, body: bytes) -> None:
        with aws_call(service="s3", action=f"writing s3://{self.bucket}/{self.key}"):
            if not self._upload_id:
                self._upload_id = self._s3.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]
            number = len(self._parts) + 1
            etag = self._s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=body)["ETag"]
        self._parts.append({"PartNumber": number, "ETag": etag})

    def close(self) -> None:
        """Make the object appear, whole."""
        with aws_call(service="s3", action=f"writing s3://{self.bucket}/{self.key}"):
            if not self._upload_id:  # small enough for one request: no multipart upload at all
                done = self._s3.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer))
            else:
                if self._buffer or not self._parts:
                    self._upload(bytes(self._buffer))
                done = self._s3.complete_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
                )
        self._buffer.clear()
        self.version = str(done.get("VersionId") or "")

    def abort(self) -> None:
        """Give the upload up: its parts are deleted and no object appears."""
        if self._upload_id:
            with aws_call(service="s3", action=f"abandoning the upload of s3://{self.bucket}/{self.key}"):
                self._s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            self._upload_id = ""
        self._buffer.clear()
