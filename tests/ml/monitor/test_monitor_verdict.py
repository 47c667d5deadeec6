"""Error answers counted apart with an error rate; too few rows give INSUFFICIENT DATA, not a verdict on noise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor_fixtures import ENDPOINT, error_line, values_lines, write_baseline, write_capture

from ml.monitor.run import MonitorReport, monitor
from ml.monitor.served import given_baseline
from ml.monitor.sources import LocalCapture
from ml.monitor.table import render_table
from ml.monitor.verdict import Thresholds
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
