"""PNG plots of the monitor's histograms (matplotlib, no display: the Agg canvas)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.figure import Figure

from ml.monitor.verdict import ClassResult, FeatureResult


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def _shares(counts: Sequence[float]) -> list[float]:
    total = float(sum(counts))
    return [c / total if total else 0.0 for c in counts]


def feature_plot(feature: FeatureResult) -> bytes:
    """Training vs window share of each baseline bucket, side by side."""
    # Figure() directly, not pyplot: no global state, no GUI backend, nothing kept between calls.
    figure = Figure(figsize=(5, 3))
    axes = figure.add_subplot()
    lows = feature.edges[:-1]
    width = (feature.edges[-1] - feature.edges[0]) / max(len(lows), 1) or 1.0
    positions = [low + width / 2 for low in lows]
    axes.bar([p - width * 0.2 for p in positions], _shares(feature.baseline_counts), width=width * 0.4, label="training")
    axes.bar([p + width * 0.2 for p in positions], _shares(feature.window_counts), width=width * 0.4, label="window")
    axes.set_title(f"{feature.name}  PSI {feature.psi:.3f}")
    axes.set_ylabel("share of values")
    axes.legend()
    figure.tight_layout()
    return _png(figure)


def class_plot(classes: ClassResult) -> bytes:
    names = sorted(set(classes.training) | set(classes.predicted))
    figure = Figure(figsize=(5, 3))
    axes = figure.add_subplot()
    index = list(range(len(names)))
    axes.bar([i - 0.2 for i in index], [classes.training.get(n, 0.0) for n in names], width=0.4, label="training labels")
    axes.bar([i + 0.2 for i in index], [classes.predicted.get(n, 0.0) for n in names], width=0.4, label="predictions")
    axes.set_xticks(index, names)
    axes.set_title(f"predicted classes  PSI {classes.psi:.3f}")
    axes.legend()
    figure.tight_layout()
    return _png(figure)
