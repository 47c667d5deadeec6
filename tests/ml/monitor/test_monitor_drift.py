"""Drift, range, missing values and predicted classes on fixed data whose statistics are known.

The expected PSI of each case is worked out here from the fixed counts, with the formula and the
0.0001 floor the module documents, not read back from the code under test.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from monitor_fixtures import ENDPOINT, values_lines, write_baseline, write_capture

from ml.monitor.drift import EPSILON, psi, shares
from ml.monitor.run import MonitorReport, monitor
from ml.monitor.served import given_baseline
from ml.monitor.sources import LocalCapture
from ml.monitor.verdict import Thresholds
from ml.monitor.window import Window

AT = datetime(2026, 11, 28, 5, 30, tzinfo=UTC)
WINDOW = Window(since=AT - timedelta(hours=1), until=AT + timedelta(hours=1))
LIMITS = Thresholds(drift_psi=0.2, missing_percent=5.0, range_percent=5.0, class_psi=0.2)
CENTRES = [i + 0.5 for i in range(10)]  # one value in the middle of each training bucket
BALANCED = ["a", "b"] * 50


def _run(tmp_path: Path, values: list[float | str], predictions: list[str], *, extra: list[str] | None = None) -> MonitorReport:
    write_capture(tmp_path / "capture", values_lines(values, predictions, at=AT) + (extra or []), at=AT)
    finder = given_baseline(str(write_baseline(tmp_path / "baseline")))
    return monitor(source=LocalCapture(root=tmp_path / "capture"), endpoint=ENDPOINT, window=WINDOW, attribution=finder, thresholds=LIMITS)


def test_a_sample_like_the_training_data_is_not_flagged(tmp_path: Path) -> None:
    report = _run(tmp_path, CENTRES * 10, BALANCED)
    (feature,) = report.variants[0].features
    assert feature.window_counts == (10,) * 10
    assert feature.psi == pytest.approx(0.0, abs=1e-12)
    assert report.variants[0].classes.psi == pytest.approx(0.0, abs=1e-12)
    assert report.breaches == []


def test_a_small_shift_stays_under_the_threshold(tmp_path: Path) -> None:
    # 8 values in each lower bucket, 12 in each upper one: shares 0.08 and 0.12 against 0.1.
    values: list[float | str] = [c for c in CENTRES[:5] for _ in range(8)] + [c for c in CENTRES[5:] for _ in range(12)]
    expected = 5 * (0.08 - 0.1) * math.log(0.08 / 0.1) + 5 * (0.12 - 0.1) * math.log(0.12 / 0.1)
    report = _run(tmp_path, values, BALANCED)
    assert report.variants[0].features[0].psi == pytest.approx(expected)  # 0.0405
    assert report.breaches == []


def test_a_sample_moved_to_the_top_buckets_is_flagged(tmp_path: Path) -> None:
    report = _run(tmp_path, [8.5] * 50 + [9.5] * 50, BALANCED)
    # Eight buckets now empty (share floored at 0.0001), two holding half each.
    expected = 8 * (0.0001 - 0.1) * math.log(0.0001 / 0.1) + 2 * (0.5 - 0.1) * math.log(0.5 / 0.1)
    feature = report.variants[0].features[0]
    assert feature.psi == pytest.approx(expected)  # 6.81
    assert feature.breaches == (f"PSI {expected:.3f} > 0.2",)
    assert feature.range_percent == 0.0
    assert report.breaches == [f"AllTraffic _c0: PSI {expected:.3f} > 0.2"]


def test_missing_and_out_of_range_values_are_counted_against_their_limits(tmp_path: Path) -> None:
    # 100 rows: 10 cells that are not numbers ("NA": missing), 10 values below the training minimum 0, the rest at the centres
    # and 10 each at exactly the minimum 0 and the maximum 10, which are inside the range.
    values: list[float | str] = ["NA"] * 10 + [-1.0] * 10 + CENTRES * 6 + [0.0] * 10 + [10.0] * 10
    report = _run(tmp_path, values, BALANCED)
    feature = report.variants[0].features[0]
    assert feature.values == 100
    assert feature.missing_percent == pytest.approx(10.0)
    assert feature.range_percent == pytest.approx(100 * 10 / 90)
    assert "missing 10.00% > 5%" in feature.breaches
    assert "out of range 11.11% > 5%" in feature.breaches


def test_predicted_classes_are_compared_with_the_training_labels(tmp_path: Path) -> None:
    report = _run(tmp_path, CENTRES * 10, ["a"] * 90 + ["c"] * 10)
    classes = report.variants[0].classes
    # Training: a 0.5, b 0.5, c 0 (floored); predicted: a 0.9, b 0 (floored), c 0.1.
    expected = (0.9 - 0.5) * math.log(0.9 / 0.5) + (0.0001 - 0.5) * math.log(0.0001 / 0.5) + (0.1 - 0.0001) * math.log(0.1 / 0.0001)
    assert classes.psi == pytest.approx(expected)
    assert classes.training == {"a": 0.5, "b": 0.5, "c": 0.0}
    assert classes.predicted == {"a": 0.9, "b": 0.0, "c": 0.1}
    assert classes.unseen == ("c",)
    assert classes.breached
    assert report.variants[0].features[0].breaches == ()


def test_records_outside_the_window_are_left_out(tmp_path: Path) -> None:
    early = values_lines([9.5] * 100, ["a"] * 100, at=WINDOW.since - timedelta(seconds=1))
    # A file that is not *.jsonl in the same hour (a partial upload, an editor's backup) is not read.
    (write_capture(tmp_path / "capture", [], at=AT).parent / "part-0.jsonl.tmp").write_text("partial {", encoding="utf-8")
    report = _run(tmp_path, CENTRES * 10, BALANCED, extra=early)
    assert report.variants[0].records == 100
    assert report.breaches == []


def test_values_beyond_the_training_range_count_in_the_end_bucket_and_as_violations(tmp_path: Path) -> None:
    report = _run(tmp_path, [20.0] * 100, BALANCED)
    feature = report.variants[0].features[0]
    assert feature.window_counts == (0,) * 9 + (100,)
    expected = 9 * (0.0001 - 0.1) * math.log(0.0001 / 0.1) + (1.0 - 0.1) * math.log(1.0 / 0.1)
    assert feature.psi == pytest.approx(expected)  # 8.28
    assert feature.range_percent == 100.0


def test_psi_of_an_empty_side_is_not_a_number_and_unequal_buckets_are_an_error() -> None:
    assert math.isnan(psi([1.0, 1.0], [0.0, 0.0])) and math.isnan(psi([0.0, 0.0], [1.0, 1.0])) and math.isnan(psi([], []))
    assert shares([0.0, 0.0]) == [EPSILON, EPSILON]  # nothing counted: every share at the floor, no division by zero
    assert shares([3.0, 0.0, 1.0]) == [0.75, EPSILON, 0.25]
    with pytest.raises(ValueError, match=r"^PSI needs the same buckets: 2 expected, 3 actual$"):
        psi([1.0, 1.0], [1.0, 1.0, 1.0])
