"""Clear errors: an empty window, a malformed capture line (file and line), a missing baseline."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from monitor_fixtures import ENDPOINT, baseline_documents, values_lines, write_baseline, write_capture

from ml.errors import UserInputError
from ml.monitor.baseline import MissingBaselineError, load_artifact, load_dir
from ml.monitor.capture import CaptureFormatError
from ml.monitor.run import EmptyWindowError, monitor
from ml.monitor.served import given_baseline
from ml.monitor.sources import LocalCapture
from ml.monitor.verdict import Thresholds
from ml.monitor.window import Window, window_from

AT = datetime(2026, 11, 28, 5, 30, tzinfo=UTC)
LIMITS = Thresholds(drift_psi=0.2, missing_percent=5.0, range_percent=5.0, class_psi=0.2)


def _monitor(tmp_path: Path, window: Window) -> None:
    finder = given_baseline(str(write_baseline(tmp_path / "baseline")))
    monitor(source=LocalCapture(root=tmp_path / "capture"), endpoint=ENDPOINT, window=window, attribution=finder, thresholds=LIMITS)


def test_a_window_without_records_says_so_and_how_to_widen_it(tmp_path: Path) -> None:
    write_capture(tmp_path / "capture", values_lines([0.5], ["a"], at=AT), at=AT)
    later = Window(since=AT + timedelta(hours=2), until=AT + timedelta(hours=3))
    with pytest.raises(
        EmptyWindowError,
        match=r"no captured records of endpoint monitored-endpoint from 2026-11-28T07:30:00Z to 2026-11-28T08:30:00Z "
        r"under .*capture; widen the window",
    ):
        _monitor(tmp_path, later)


def test_a_malformed_line_stops_the_run_naming_file_and_line(tmp_path: Path) -> None:
    lines = values_lines([0.5, 1.5], ["a", "b"], at=AT)
    path = write_capture(tmp_path / "capture", [lines[0], '{"captureData": "truncated', lines[1]], at=AT)
    with pytest.raises(CaptureFormatError, match=f"^{path}:2: not a SageMaker data capture record"):
        _monitor(tmp_path, Window(since=AT - timedelta(hours=1), until=AT + timedelta(hours=1)))


def test_a_baseline_folder_missing_a_file_names_it_and_says_retrain(tmp_path: Path) -> None:
    folder = write_baseline(tmp_path / "baseline")
    (folder / "labels.json").unlink()
    with pytest.raises(MissingBaselineError, match=r"missing baseline/labels.json\): the version was trained before .* retrain it"):
        load_dir(folder)


def _archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_model_artifact_without_a_baseline_is_a_missing_baseline(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "model.tar.gz", {"model.json": b"{}"})
    with pytest.raises(
        MissingBaselineError, match=r"no baseline in .*model.tar.gz \(missing baseline/statistics.json, baseline/constraints.json"
    ):
        load_artifact(str(archive))
    with pytest.raises(MissingBaselineError, match="does not exist"):
        load_artifact(str(tmp_path / "gone.tar.gz"))


def test_a_model_artifact_with_a_baseline_is_read_from_the_archive(tmp_path: Path) -> None:
    members = {f"baseline/{name}": json.dumps(doc).encode() for name, doc in baseline_documents().items()}
    baseline = load_artifact(str(_archive(tmp_path / "model.tar.gz", {"model.json": b"{}", **members})))
    assert baseline.classes == {"a": 50, "b": 50}
    assert baseline.features[0].edges == tuple(float(i) for i in range(11))


def test_window_flags_are_checked() -> None:
    now = datetime(2026, 11, 28, 6, tzinfo=UTC)
    assert window_from(hours=2, default_hours=24, now=now) == Window(since=now - timedelta(hours=2), until=now)
    assert window_from(default_hours=24, now=now).since == now - timedelta(hours=24)
    with pytest.raises(UserInputError, match="--until 2026-11-28T05:00:00"):
        window_from(since="2026-11-28T06:00", until="2026-11-28T05:00", default_hours=24)
    with pytest.raises(UserInputError, match="--since 'tuesday' is not a time; use ISO 8601"):
        window_from(since="tuesday", default_hours=24)
    with pytest.raises(UserInputError, match="give --since or --hours, not both"):
        window_from(since="2026-11-28T05:00", hours=1, default_hours=24)
