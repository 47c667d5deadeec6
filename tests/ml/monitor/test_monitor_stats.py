"""The fixed-size counters: what a value, a missing cell, a ragged row, an error answer each add up to."""

from __future__ import annotations

import math

import numpy as np
from monitor_fixtures import baseline_documents

from ml.monitor.baseline import Baseline, FeatureBaseline, parse
from ml.monitor.stats import CHUNK_ROWS, FeatureCounts, VariantStats

NAN = math.nan


def _baseline() -> Baseline:
    return parse(baseline_documents(), source="fixed")  # one feature over [0, 10], ten unit buckets


def _stats() -> VariantStats:
    return VariantStats(variant="AllTraffic", version=3, baseline=_baseline())


def test_a_feature_counts_values_missing_and_each_side_of_the_training_range() -> None:
    counts = FeatureCounts(baseline=_baseline().features[0])
    counts.add(np.array([NAN, -0.5, 0.0, 5.5, 10.0, 10.5, 99.0]))
    assert (counts.values, counts.missing, counts.present) == (7, 1, 6)
    assert (counts.below, counts.above) == (1, 2)  # the training min and max themselves are in range
    # Out-of-range values count in the end buckets, as Model Monitor clips them.
    assert counts.histogram.tolist() == [2, 0, 0, 0, 0, 1, 0, 0, 0, 3]


def test_a_constant_training_feature_has_no_histogram_but_still_counts() -> None:
    flat = FeatureBaseline(name="_c0", minimum=1.0, maximum=1.0, edges=(1.0, 1.0), counts=(5.0,), completeness=1.0)
    counts = FeatureCounts(baseline=flat)
    counts.add(np.array([1.0, 2.0]))
    assert (counts.values, counts.above, counts.histogram.tolist()) == (2, 1, [0])


def test_rows_are_padded_or_cut_to_the_features_and_ragged_ones_counted() -> None:
    stats = VariantStats(variant="AllTraffic", version=3, baseline=parse(_two_features(), source="two"))
    stats.add([[1.0, 2.0], [3.0], [4.0, 5.0, 6.0]], ["a", "b", "a"])
    stats.flush()
    first, second = stats.features
    assert (first.values, first.missing, second.values, second.missing) == (3, 0, 3, 1)  # the short row's cell is missing
    assert (stats.ragged_rows, stats.rows, stats.records) == (1, 3, 1)  # only the row with an extra cell is ragged
    assert stats.classes == {"a": 2, "b": 1}


def test_an_answer_not_captured_leaves_rows_unanswered_and_an_error_leaves_no_trace_but_its_count() -> None:
    stats = _stats()
    stats.add([[1.0], [2.0]], [])
    assert (stats.unanswered_rows, stats.rows, stats.records, sum(stats.classes.values())) == (2, 2, 1, 0)
    stats.add([[99.0], [98.0], [97.0]], [], error=True)
    assert (stats.error_records, stats.error_rows, stats.records, stats.rows, stats.unanswered_rows) == (1, 3, 2, 2, 2)


def test_rows_are_counted_in_fixed_blocks_and_none_is_lost() -> None:
    stats = _stats()
    assert stats.rows == 0
    stats.add([[0.5]] * (CHUNK_ROWS - 1), ["a"] * (CHUNK_ROWS - 1))
    assert stats.features[0].values == 0 and stats.rows == CHUNK_ROWS - 1  # still buffered
    stats.add([[1.5]], ["a"])
    assert stats.features[0].values == CHUNK_ROWS  # a full block is counted at once
    stats.add([[2.5]], ["b"])
    stats.flush()
    stats.flush()  # flushing an empty buffer adds nothing
    assert stats.rows == CHUNK_ROWS + 1 and stats.features[0].histogram.tolist()[:3] == [CHUNK_ROWS - 1, 1, 1]


def test_a_baseline_without_features_has_no_rows() -> None:
    empty = Baseline(source="none", features=(), classes={"a": 1})
    stats = VariantStats(variant="AllTraffic", version=1, baseline=empty)
    stats.add([[1.0]], ["a"])
    assert stats.rows == 0 and stats.ragged_rows == 1


def _two_features() -> dict[str, object]:
    documents = baseline_documents()
    statistics = documents["statistics.json"]
    statistics["features"] = [statistics["features"][0], {**statistics["features"][0], "name": "_c1"}]
    return documents


def test_every_counter_adds_up_over_many_blocks_and_records() -> None:
    counts = FeatureCounts(baseline=_baseline().features[0])
    for _ in range(2):
        counts.add(np.array([NAN, -1.0, 11.0, 5.5]))
    assert (counts.values, counts.missing, counts.below, counts.above) == (8, 2, 2, 2)
    stats = VariantStats(variant="AllTraffic", version=3, baseline=parse(_two_features(), source="two"))
    for _ in range(2):
        stats.add([[1.0, 2.0, 3.0]], ["a"])  # one ragged row each time
        stats.add([[1.0, 2.0]], [])  # one unanswered row each time
    assert (stats.ragged_rows, stats.unanswered_rows, stats.records) == (2, 2, 4)
