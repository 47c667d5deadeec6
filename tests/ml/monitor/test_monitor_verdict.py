"""Error answers counted apart with an error rate; too few rows give INSUFFICIENT DATA, not a verdict on noise."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor_fixtures import ENDPOINT, capture_line, error_line, values_lines, write_baseline, write_capture

from ml.config import load_config
from ml.monitor.run import MonitorReport, monitor
from ml.monitor.served import given_baseline
from ml.monitor.sources import LocalCapture
from ml.monitor.table import render_table
from ml.monitor.verdict import Thresholds, VariantResult
from ml.monitor.window import Window

AT = datetime(2026, 11, 28, 5, 30, tzinfo=UTC)
WINDOW = Window(since=AT - timedelta(hours=1), until=AT + timedelta(hours=1))
CENTRES = [i + 0.5 for i in range(10)]


def _run(tmp_path: Path, lines: list[str], *, min_rows: int = 1) -> MonitorReport:
    write_capture(tmp_path / "capture", lines, at=AT)
    limits = Thresholds(drift_psi=0.2, missing_percent=5.0, range_percent=5.0, class_psi=0.2, min_rows=min_rows)
    attribution = given_baseline(str(write_baseline(tmp_path / "baseline")))
    return monitor(
        source=LocalCapture(root=tmp_path / "capture"), endpoint=ENDPOINT, window=WINDOW, attribution=attribution, thresholds=limits
    )


def test_error_answers_are_counted_as_errors_and_kept_out_of_the_statistics(tmp_path: Path) -> None:
    good = values_lines(CENTRES * 10, ["a", "b"] * 50, at=AT)
    # 25 requests the model refused: three cells far out of range, answered with an error text.
    errors = [error_line(rows=["99,99,99"], message="wrong feature count: expected 1, got 3", at=AT) for _ in range(25)]
    report = _run(tmp_path, good + errors)
    (result,) = report.variants
    assert (result.records, result.error_records, result.error_rows, result.rows) == (125, 25, 25, 100)
    assert result.error_percent == 20.0
    feature = result.features[0]
    assert (feature.values, feature.missing_percent, feature.range_percent) == (100, 0.0, 0.0)
    assert set(result.classes.predicted) == {"a", "b"} and result.classes.unseen == ()
    assert report.verdict == "OK"
    assert "125 records, 25 answered with an error (20.00% error rate), 100 rows compared" in render_table(report)


def test_fewer_rows_than_the_minimum_give_insufficient_data_not_a_breach(tmp_path: Path) -> None:
    far = values_lines([9.5] * 10, ["a"] * 10, at=AT)  # ten rows all in one bucket: PSI far over the threshold
    report = _run(tmp_path, far, min_rows=11)
    (result,) = report.variants
    assert not result.sufficient and result.features[0].breaches  # the numbers are still shown
    assert report.breaches == [] and report.verdict == "INSUFFICIENT DATA"
    table = render_table(report)
    assert "INSUFFICIENT DATA: 10 rows compared, fewer than monitor_min_rows (11)" in table
    assert "verdict: INSUFFICIENT DATA: no version had monitor_min_rows (11) rows to compare" in table
    judged = _run(tmp_path, far, min_rows=10)  # exactly the minimum is enough
    assert judged.variants[0].sufficient and judged.verdict == "BREACH"


def test_errors_do_not_count_towards_the_minimum(tmp_path: Path) -> None:
    lines = values_lines(CENTRES, ["a", "b"] * 5, at=AT) + [error_line(rows=["1"], message="boom", at=AT, status=500) for _ in range(90)]
    report = _run(tmp_path, lines, min_rows=11)
    assert report.variants[0].rows == 10 and report.verdict == "INSUFFICIENT DATA"


def _judged(lines: list[str], tmp_path: Path, **limits: float) -> VariantResult:
    write_capture(tmp_path / "capture", lines, at=AT)
    thresholds = Thresholds(**{"drift_psi": 0.2, "missing_percent": 5.0, "range_percent": 5.0, "class_psi": 0.2, **limits})  # type: ignore[arg-type]
    attribution = given_baseline(str(write_baseline(tmp_path / "baseline")))
    report = monitor(
        source=LocalCapture(root=tmp_path / "capture"), endpoint=ENDPOINT, window=WINDOW, attribution=attribution, thresholds=thresholds
    )
    return report.variants[0]


def test_a_value_exactly_at_a_threshold_is_not_a_breach(tmp_path: Path) -> None:
    # 5 of 100 missing, 5 of 95 present out of range: 5.00% and 5.26%.
    values: list[float | str] = [*(CENTRES * 9), *["x"] * 5, *[99.0] * 5]
    predicted = ["a"] * 60 + ["b"] * 40
    result = _judged(values_lines(values, predicted, at=AT), tmp_path, range_percent=5.27)
    feature = result.features[0]
    assert (feature.missing_percent, round(feature.range_percent, 2)) == (5.0, 5.26) and feature.breaches == ()
    exactly = {"drift_psi": feature.psi, "class_psi": result.classes.psi, "range_percent": feature.range_percent}
    again = _judged(values_lines(values, predicted, at=AT), tmp_path / "again", **exactly)
    assert again.features[0].breaches == () and not again.classes.breached  # each equal to its limit: within it
    assert again.classes.psi > 0 and again.features[0].psi > 0


def test_nothing_to_count_gives_zero_shares_and_no_psi(tmp_path: Path) -> None:
    only_errors = [error_line(rows=["1"], message="boom", at=AT) for _ in range(3)]
    result = _judged(only_errors, tmp_path)
    feature = result.features[0]
    assert (feature.values, feature.missing_percent, feature.range_percent) == (0, 0.0, 0.0) and math.isnan(feature.psi)
    assert result.classes.predicted == {} and math.isnan(result.classes.psi) and not result.classes.breached
    assert result.classes.training == {"a": 0.5, "b": 0.5}
    assert (result.error_percent, result.records) == (100.0, 3)


def test_a_baseline_without_labels_shares_nothing_and_every_class_is_unseen(tmp_path: Path) -> None:
    write_capture(tmp_path / "capture", values_lines([0.5, 1.5], ["a", "b"], at=AT), at=AT)
    baseline = write_baseline(tmp_path / "baseline")
    (baseline / "labels.json").write_text(json.dumps({"item_count": 0, "classes": {}}), encoding="utf-8")
    report = monitor(
        source=LocalCapture(root=tmp_path / "capture"), endpoint=ENDPOINT, window=WINDOW, attribution=given_baseline(str(baseline)),
        thresholds=Thresholds(drift_psi=0.2, missing_percent=5.0, range_percent=5.0, class_psi=0.2),
    )  # fmt: skip
    classes = report.variants[0].classes
    assert classes.training == {} and classes.predicted == {"a": 0.5, "b": 0.5} and classes.unseen == ("a", "b")


def test_the_result_carries_every_count(tmp_path: Path) -> None:
    input_only = json.loads(capture_line(rows=["2"], predictions=[], at=AT))
    del input_only["captureData"]["endpointOutput"]  # capture of the input alone: no answer to count
    lines = [capture_line(rows=["1,2,3", "0.5"], predictions=["a", "b"], at=AT), json.dumps(input_only)]
    result = _judged(lines, tmp_path)
    assert (result.records, result.rows, result.ragged_rows, result.unanswered_rows, result.error_records) == (2, 3, 1, 1, 0)
    assert result.variant == "AllTraffic" and result.version == 0 and result.label == "AllTraffic"


def test_thresholds_come_from_the_config() -> None:
    overrides = {"monitor_drift_psi": 0.3, "monitor_missing_percent": 1.5, "monitor_range_percent": 2.5, "monitor_class_psi": 0.4}
    config = load_config(Path(__file__).resolve().parents[3] / "cdktf.json", overrides={**overrides, "monitor_min_rows": 7})
    assert Thresholds.from_config(config) == Thresholds(drift_psi=0.3, missing_percent=1.5, range_percent=2.5, class_psi=0.4, min_rows=7)
