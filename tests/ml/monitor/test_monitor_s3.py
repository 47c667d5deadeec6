"""Reading the capture and the model artifact from S3 (moto), as the monitor does on AWS."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from monitor_fixtures import ENDPOINT, baseline_documents, capture_key, values_lines
from moto import mock_aws

from ml.monitor.baseline import load_artifact
from ml.monitor.publish import publish_report
from ml.monitor.run import monitor
from ml.monitor.served import GivenBaseline
from ml.monitor.sources import S3Capture
from ml.monitor.verdict import Thresholds
from ml.monitor.window import Window

TEST_BUCKET = "byoc-test-datalake"
TEST_PREFIX = "datacapture"
AT = datetime(2026, 11, 28, 5, 30, tzinfo=UTC)
LIMITS = Thresholds(drift_psi=0.2, missing_percent=5.0, range_percent=5.0, class_psi=0.2)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=TEST_BUCKET)
        yield client


def _put(s3: Any, key: str, lines: list[str]) -> None:
    s3.put_object(Bucket=TEST_BUCKET, Key=key, Body="".join(line + "\n" for line in lines).encode())


def _artifact(s3: Any) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, document in {"model.json": {}, **{f"baseline/{n}": d for n, d in baseline_documents().items()}}.items():
            data = json.dumps(document).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    s3.put_object(Bucket=TEST_BUCKET, Key="models/job/output/model.tar.gz", Body=buffer.getvalue())
    return f"s3://{TEST_BUCKET}/models/job/output/model.tar.gz"


def test_the_window_is_read_from_s3_hour_by_hour_against_the_artifacts_baseline(s3: Any) -> None:
    # Two files in the window's hour, one in the next hour (written late), one a day earlier.
    centres = [i + 0.5 for i in range(10)]
    _put(s3, f"{TEST_PREFIX}/{capture_key(at=AT, name='a.jsonl')}", values_lines(centres * 5, ["a", "b"] * 25, at=AT))
    _put(s3, f"{TEST_PREFIX}/{capture_key(at=AT, name='b.jsonl')}", values_lines(centres * 4, ["a", "b"] * 20, at=AT))
    late = AT + timedelta(hours=1)
    _put(s3, f"{TEST_PREFIX}/{capture_key(at=late, name='c.jsonl')}", values_lines(centres, ["a", "b"] * 5, at=AT + timedelta(minutes=20)))
    # Not a capture file: an upload in progress, say; only *.jsonl is read.
    s3.put_object(Bucket=TEST_BUCKET, Key=f"{TEST_PREFIX}/{capture_key(at=AT, name='a.jsonl.tmp')}", Body=b"partial {")
    old = AT - timedelta(days=1)
    _put(s3, f"{TEST_PREFIX}/{capture_key(at=old, name='d.jsonl')}", values_lines([9.5] * 50, ["a"] * 50, at=old))
    source = S3Capture(client=s3, bucket=TEST_BUCKET, prefix=TEST_PREFIX)
    assert source.variants(ENDPOINT) == ["AllTraffic"]
    baseline = load_artifact(_artifact(s3), s3_client=s3)
    window = Window(since=AT - timedelta(minutes=30), until=AT + timedelta(minutes=30))
    report = monitor(source=source, endpoint=ENDPOINT, window=window, attribution=GivenBaseline(baseline), thresholds=LIMITS)
    (result,) = report.variants
    assert (result.version, result.records, result.rows) == (0, 100, 100)
    assert result.features[0].window_counts == (10,) * 10
    assert report.source == f"s3://{TEST_BUCKET}/{TEST_PREFIX}"
    assert report.breaches == []


def test_an_endpoint_without_capture_in_s3_has_no_variants(s3: Any) -> None:
    assert S3Capture(client=s3, bucket=TEST_BUCKET, prefix=TEST_PREFIX).variants("other-endpoint") == []


def test_the_report_is_published_under_the_reports_prefix(s3: Any, tmp_path: Path) -> None:
    html = tmp_path / "monitor-x-20261128T060000Z.html"
    html.write_text("<html>numbers</html>", encoding="utf-8")
    uri = publish_report(s3_client=s3, bucket=TEST_BUCKET, endpoint=ENDPOINT, html=html)
    assert uri == f"s3://{TEST_BUCKET}/monitor-reports/{ENDPOINT}/{html.name}"
    stored = s3.get_object(Bucket=TEST_BUCKET, Key=uri.split("/", 3)[3])
    assert stored["Body"].read() == html.read_bytes() and stored["ContentType"] == "text/html; charset=utf-8"
