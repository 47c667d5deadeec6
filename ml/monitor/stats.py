"""Fixed-size counters over the captured rows of one variant, fed in chunks of rows.

Per feature: values seen, missing, below the training minimum, above the training maximum, and a
histogram over the baseline's buckets (values outside the training range count in the end
buckets, as Model Monitor's clipping does; they are also counted as range violations). Per
class: how many predictions named it. Nothing here grows with the window but the class names.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ml.monitor.baseline import Baseline, FeatureBaseline

CHUNK_ROWS = 65536  # rows buffered before one vectorised pass: ~4 MB of floats for iris' four features


@dataclass(kw_only=True)
class FeatureCounts:
    baseline: FeatureBaseline
    values: int = 0
    missing: int = 0
    below: int = 0
    above: int = 0
    histogram: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        self.histogram = np.zeros(len(self.baseline.counts), dtype=np.int64)

    def add(self, column: NDArray[np.float64]) -> None:
        present = column[~np.isnan(column)]
        self.values += column.size
        self.missing += column.size - present.size
        self.below += int((present < self.baseline.minimum).sum())
        self.above += int((present > self.baseline.maximum).sum())
        edges = np.asarray(self.baseline.edges)
        if present.size and np.all(np.diff(edges) > 0):
            clipped = np.clip(present, edges[0], edges[-1])
            self.histogram += np.histogram(clipped, bins=edges)[0]

    @property
    def present(self) -> int:
        return self.values - self.missing


@dataclass(kw_only=True)
class VariantStats:
    """Everything one variant's window adds up to, against the baseline of its version."""

    variant: str
    version: int
    baseline: Baseline
    records: int = 0  # every record in the window, error answers included
    error_records: int = 0  # answered with an error: counted here, never in the features or classes
    error_rows: int = 0
    ragged_rows: int = 0  # rows with more cells than features (the extra cells are ignored)
    unanswered_rows: int = 0  # rows whose answer was not captured (capture of the input only)
    classes: Counter[str] = field(default_factory=Counter)
    features: list[FeatureCounts] = field(default_factory=list)
    _buffer: list[list[float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.features = [FeatureCounts(baseline=f) for f in self.baseline.features]

    @property
    def rows(self) -> int:
        return self.features[0].values + len(self._buffer) if self.features else 0

    def add(self, rows: list[list[float]], predictions: list[str], *, error: bool = False) -> None:
        width = len(self.features)
        self.records += 1
        if error:
            # A request the model refused (wrong feature count, bad encoding) says nothing about
            # the traffic the model serves: its cells and its error text stay out of the statistics.
            self.error_records += 1
            self.error_rows += len(rows)
            return
        for row in rows:
            if len(row) == width:
                self._buffer.append(row)
            else:
                self.ragged_rows += len(row) > width
                self._buffer.append((row + [np.nan] * width)[:width])
        if predictions:
            self.classes.update(predictions)
        else:
            self.unanswered_rows += len(rows)
        if len(self._buffer) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        block = np.array(self._buffer, dtype=np.float64)
        self._buffer = []
        for index, counts in enumerate(self.features):
            counts.add(block[:, index])
