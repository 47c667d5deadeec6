"""Thresholds from the config, and what a window's counters mean against them."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ml.config import ProjectConfig
from ml.monitor.drift import psi
from ml.monitor.stats import VariantStats


@dataclass(frozen=True, kw_only=True)
class Thresholds:
    drift_psi: float
    missing_percent: float
    range_percent: float
    class_psi: float
    min_rows: int = 1  # fewer compared rows than this: no verdict, INSUFFICIENT DATA

    @classmethod
    def from_config(cls, config: ProjectConfig) -> Thresholds:
        return cls(
            drift_psi=config.monitor_drift_psi,
            missing_percent=config.monitor_missing_percent,
            range_percent=config.monitor_range_percent,
            class_psi=config.monitor_class_psi,
            min_rows=config.monitor_min_rows,
        )


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


@dataclass(frozen=True, kw_only=True)
class FeatureResult:
    name: str
    values: int
    missing_percent: float
    range_percent: float  # share of present values outside the training [min, max]
    psi: float  # NaN when nothing was present, or the training feature was constant
    breaches: tuple[str, ...]
    baseline_counts: tuple[float, ...]
    window_counts: tuple[int, ...]
    edges: tuple[float, ...]


@dataclass(frozen=True, kw_only=True)
class ClassResult:
    psi: float
    training: dict[str, float]  # class -> share of training labels
    predicted: dict[str, float]  # class -> share of predictions in the window
    unseen: tuple[str, ...]  # predicted classes training never had
    breached: bool


@dataclass(frozen=True, kw_only=True)
class VariantResult:
    variant: str
    version: int
    baseline: str
    records: int  # every record attributed to this version in the window, errors included
    rows: int  # rows compared with the baseline: those of answers that were predictions
    ragged_rows: int
    unanswered_rows: int
    features: tuple[FeatureResult, ...]
    classes: ClassResult
    error_records: int = 0
    error_rows: int = 0
    sufficient: bool = True  # at least the threshold's min_rows were compared; else no verdict

    @property
    def error_percent(self) -> float:
        """The share of records the endpoint answered with an error."""
        return _percent(self.error_records, self.records)

    @property
    def breaches(self) -> list[str]:
        """Thresholds this version's traffic breached; none when too few rows were compared to say."""
        if not self.sufficient:
            return []
        found = [f"{self.label} {f.name}: {b}" for f in self.features for b in f.breaches]
        if self.classes.breached:
            found.append(f"{self.label} predicted classes: PSI {self.classes.psi:.3f}")
        return found

    @property
    def label(self) -> str:
        """The variant, and the version that answered its records (none when --baseline gave the baseline)."""
        return f"{self.variant} v{self.version}" if self.version else self.variant


def _feature(stats: VariantStats, index: int, limits: Thresholds) -> FeatureResult:
    counts = stats.features[index]
    missing = _percent(counts.missing, counts.values)
    outside = _percent(counts.below + counts.above, counts.present)
    drift = psi(counts.baseline.counts, counts.histogram.tolist())  # NaN when nothing was present
    breaches = []
    if missing > limits.missing_percent:
        breaches.append(f"missing {missing:.2f}% > {limits.missing_percent:g}%")
    if outside > limits.range_percent:
        breaches.append(f"out of range {outside:.2f}% > {limits.range_percent:g}%")
    if not math.isnan(drift) and drift > limits.drift_psi:
        breaches.append(f"PSI {drift:.3f} > {limits.drift_psi:g}")
    return FeatureResult(
        name=counts.baseline.name,
        values=counts.values,
        missing_percent=missing,
        range_percent=outside,
        psi=drift,
        breaches=tuple(breaches),
        baseline_counts=counts.baseline.counts,
        window_counts=tuple(int(c) for c in counts.histogram),
        edges=counts.baseline.edges,
    )


def _classes(stats: VariantStats, limits: Thresholds) -> ClassResult:
    names = sorted(set(stats.baseline.classes) | set(stats.classes))
    expected = {n: float(stats.baseline.classes.get(n, 0)) for n in names}
    actual = {n: float(stats.classes.get(n, 0)) for n in names}
    drift = psi(list(expected.values()), list(actual.values()))
    total_e, total_a = sum(expected.values()), sum(actual.values())
    return ClassResult(
        psi=drift,
        training={n: e / total_e for n, e in expected.items()} if total_e else {},
        predicted={n: a / total_a for n, a in actual.items()} if total_a else {},
        unseen=tuple(n for n in names if n not in stats.baseline.classes),
        breached=not math.isnan(drift) and drift > limits.class_psi,
    )


def judge(stats: VariantStats, limits: Thresholds) -> VariantResult:
    stats.flush()
    return VariantResult(
        variant=stats.variant,
        version=stats.version,
        baseline=stats.baseline.source,
        records=stats.records,
        rows=stats.rows,
        ragged_rows=stats.ragged_rows,
        unanswered_rows=stats.unanswered_rows,
        features=tuple(_feature(stats, i, limits) for i in range(len(stats.features))),
        classes=_classes(stats, limits),
        error_records=stats.error_records,
        error_rows=stats.error_rows,
        sufficient=stats.rows >= limits.min_rows,
    )
