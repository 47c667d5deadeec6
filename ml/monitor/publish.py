"""On AWS the report goes to the data lake too: a CodeBuild container's files vanish with the build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ml.errors import AwsError
from ml.names import MONITOR_REPORTS_PREFIX


def report_key(*, endpoint: str, name: str) -> str:
    return f"{MONITOR_REPORTS_PREFIX}/{endpoint}/{name}"


_TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json"}


def publish_report(*, s3_client: Any, bucket: str, endpoint: str, html: Path) -> str:
    """Upload the HTML report, or its JSON summary (the bucket's default KMS encryption applies); return its s3:// URI."""
    key = report_key(endpoint=endpoint, name=html.name)
    try:
        kind = _TYPES.get(html.suffix, _TYPES[".html"])
        s3_client.put_object(Bucket=bucket, Key=key, Body=html.read_bytes(), ContentType=kind)
    except (ClientError, BotoCoreError) as err:
        raise AwsError(f"cannot upload the monitor report to s3://{bucket}/{key}: {err}") from err
    return f"s3://{bucket}/{key}"
