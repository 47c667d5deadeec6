"""Each captured record against the baseline of the version that answered it, over the current endpoint's life only."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from monitor_fixtures import ENDPOINT, baseline_documents, capture_line, values_lines, write_capture

from ml.backends.base import Backend
from ml.backends.records import Endpoint, ModelVersion, Variant
from ml.backends.sagemaker.deployments import Deployment
from ml.errors import NotFoundError
from ml.monitor.baseline import MissingBaselineError
from ml.monitor.run import EmptyWindowError, MonitorReport, monitor
from ml.monitor.served import ServedBaselines
from ml.monitor.sources import LocalCapture
from ml.monitor.verdict import Thresholds
from ml.monitor.window import Window

AT = datetime(2026, 11, 28, 5, 30, tzinfo=UTC)
WINDOW = Window(since=AT - timedelta(hours=1), until=AT + timedelta(hours=1))
LIMITS = Thresholds(drift_psi=0.2, missing_percent=5.0, range_percent=5.0, class_psi=0.2)
CENTRES = [i + 0.5 for i in range(10)]
V1, V2 = "v1-20261128-052000-001", "v2-20261128-052500-002"


class TwoVerbs:
    """The two Backend verbs the monitor uses, answering fixed records and counting calls."""

    def __init__(self, endpoint: Endpoint | None, versions: list[ModelVersion]) -> None:
        self.endpoint, self.versions = endpoint, versions
        self.calls: list[str] = []

    def describe_endpoint(self, *, endpoint_name: str) -> Endpoint:
        self.calls.append(f"describe {endpoint_name}")
        if self.endpoint is None:
            raise NotFoundError(f"endpoint {endpoint_name!r} does not exist")
        return self.endpoint

    def list_versions(self) -> list[ModelVersion]:
        self.calls.append("list_versions")
        return self.versions


def _artifact(path: Path, classes: dict[str, int]) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for name, document in baseline_documents(classes=classes).items():
            data = json.dumps(document).encode()
            info = tarfile.TarInfo(f"baseline/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def _versions(tmp_path: Path) -> list[ModelVersion]:
    """v1 trained on classes a/b, v2 on classes c/d: a record compared with the wrong one shows unseen classes."""
    return [
        ModelVersion(group="g", version=1, approval_status="Approved", artifact_uri=_artifact(tmp_path / "v1.tar.gz", {"a": 50, "b": 50})),
        ModelVersion(group="g", version=2, approval_status="Approved", artifact_uri=_artifact(tmp_path / "v2.tar.gz", {"c": 50, "d": 50})),
    ]


def _endpoint(*, created: datetime = AT - timedelta(minutes=20), version: int = 2) -> Endpoint:
    variant = Variant(name="AllTraffic", version=version, weight=1.0)
    return Endpoint(name=ENDPOINT, status="InService", version=version, variants=(variant,), created_at=created.isoformat())


def _run(tmp_path: Path, backend: TwoVerbs, **kwargs: object) -> MonitorReport:
    attribution = ServedBaselines(backend=cast(Backend, backend), endpoint=ENDPOINT, **kwargs)  # type: ignore[arg-type]
    return monitor(
        source=LocalCapture(root=tmp_path / "capture"), endpoint=ENDPOINT, window=WINDOW, attribution=attribution, thresholds=LIMITS
    )


def test_each_record_is_compared_with_the_baseline_of_the_version_that_answered_it(tmp_path: Path) -> None:
    # v1 answered 100 records before the update, v2 100 after: each against its own training classes.
    lines = values_lines(CENTRES * 10, ["a", "b"] * 50, at=AT - timedelta(minutes=5), variant=V1)
    lines += values_lines(CENTRES * 10, ["c", "d"] * 50, at=AT, variant=V2)
    write_capture(tmp_path / "capture", lines, at=AT)
    backend = TwoVerbs(_endpoint(), _versions(tmp_path))
    report = _run(tmp_path, backend)
    assert [(v.variant, v.version, v.records, v.rows) for v in report.variants] == [
        ("AllTraffic", 1, 100, 100),
        ("AllTraffic", 2, 100, 100),
    ]
    assert [v.classes.unseen for v in report.variants] == [(), ()]
    assert [v.baseline for v in report.variants] == [str(tmp_path / "v1.tar.gz"), str(tmp_path / "v2.tar.gz")]
    assert report.breaches == [] and report.verdict == "OK"
    assert backend.calls.count("list_versions") == 2  # one baseline read per version, not per record


def test_records_of_earlier_endpoints_of_the_name_are_left_out_unless_asked_for(tmp_path: Path) -> None:
    created = AT - timedelta(minutes=10)
    old = values_lines([9.5] * 100, ["a"] * 100, at=created - timedelta(seconds=1), variant=V1)  # the old endpoint's last second
    new = values_lines(CENTRES * 10, ["c", "d"] * 50, at=created.replace(microsecond=0), variant=V2)  # the new one's first
    write_capture(tmp_path / "capture", old + new, at=AT)
    report = _run(tmp_path, TwoVerbs(_endpoint(created=created + timedelta(milliseconds=700)), _versions(tmp_path)))
    assert [(v.version, v.records) for v in report.variants] == [(2, 100)]
    assert report.earlier_records == 100 and report.lifetime_start == created
    widened = _run(tmp_path, TwoVerbs(None, _versions(tmp_path)), earlier_endpoints=True)
    assert [(v.version, v.records) for v in widened.variants] == [(1, 100), (2, 100)]
    assert widened.earlier_records == 0 and widened.lifetime_start is None


def test_a_window_with_only_earlier_endpoints_records_says_so(tmp_path: Path) -> None:
    write_capture(tmp_path / "capture", values_lines([0.5], ["a"], at=AT - timedelta(minutes=30), variant=V1), at=AT)
    with pytest.raises(EmptyWindowError, match=r"1 record\(s\) in the window came from earlier endpoints .* --earlier-endpoints counts"):
        _run(tmp_path, TwoVerbs(_endpoint(created=AT), _versions(tmp_path)))


def test_a_gone_endpoint_has_no_known_life_and_says_how_to_monitor_anyway(tmp_path: Path) -> None:
    write_capture(tmp_path / "capture", values_lines([0.5], ["a"], at=AT, variant=V1), at=AT)
    with pytest.raises(NotFoundError, match="does not exist now.*add --earlier-endpoints.*or give --baseline"):
        _run(tmp_path, TwoVerbs(None, _versions(tmp_path)))


def test_a_record_that_names_no_version_is_counted_apart_with_the_reason(tmp_path: Path) -> None:
    lines = [capture_line(rows=["0.5"], predictions=["a"], at=AT), capture_line(rows=["0.5"], predictions=["a"], at=AT, variant="blue")]
    write_capture(tmp_path / "capture", lines + values_lines(CENTRES * 10, ["c", "d"] * 50, at=AT, variant=V2), at=AT)
    report = _run(tmp_path, TwoVerbs(_endpoint(), _versions(tmp_path)))
    assert [(v.version, v.records) for v in report.variants] == [(2, 100)]
    reasons = {u.reason: u.records for u in report.unattributed}
    assert reasons == {
        "answered by 'blue', which names no model version": 1,
        "the record does not name the variant that answered it (the router answered on its own, "
        "or the record was captured before records named their variant)": 1,
    }


def test_aws_records_are_attributed_by_the_deployment_history(tmp_path: Path) -> None:
    """SageMaker's records name no variant: the history says v1 until the update began, both during it, v2 after."""
    update = Deployment(start=AT - timedelta(minutes=10), settled=AT - timedelta(minutes=5), version=2)
    history = [Deployment(start=AT - timedelta(minutes=21), settled=AT - timedelta(minutes=20), version=1), update]
    lines = values_lines(CENTRES * 10, ["a", "b"] * 50, at=AT - timedelta(minutes=15))  # v1 alone
    lines += values_lines([0.5] * 3, ["a"] * 3, at=AT - timedelta(minutes=7))  # during the shift
    lines += values_lines(CENTRES * 10, ["c", "d"] * 50, at=AT)  # v2 alone
    write_capture(tmp_path / "capture", lines, at=AT)
    report = _run(tmp_path, TwoVerbs(_endpoint(created=AT - timedelta(minutes=21)), _versions(tmp_path)), deployments=lambda: history)
    assert [(v.version, v.records) for v in report.variants] == [(1, 100), (2, 100)]
    assert [(u.records, u.reason.split(" (")[0]) for u in report.unattributed] == [(3, "answered during the update to version 2")]


def test_a_version_missing_from_the_registry_is_a_clear_error(tmp_path: Path) -> None:
    write_capture(tmp_path / "capture", values_lines([0.5], ["a"], at=AT, variant="v3-20261128-052000-001"), at=AT)
    with pytest.raises(MissingBaselineError, match=f"model version 3 answered traffic of {ENDPOINT} but is not in the registry"):
        _run(tmp_path, TwoVerbs(_endpoint(), _versions(tmp_path)))
