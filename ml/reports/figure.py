"""The confusion matrix as a PNG, drawn with matplotlib's non-interactive Agg canvas."""

from __future__ import annotations

import io

from ml.reports.scores import Scores


def confusion_png(scores: Scores, *, title: str) -> bytes:
    """PNG bytes of the confusion matrix: true class down, predicted class across, counts in cells."""
    # The object API with an Agg canvas: no pyplot global state, no display, safe in threads.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size = max(3.5, 1.0 + 0.9 * len(scores.classes))
    figure = Figure(figsize=(size, size), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.imshow(scores.confusion, cmap="Blues")
    ticks = range(len(scores.labels))
    axes.set_xticks(ticks, scores.labels, rotation=45, ha="right")
    axes.set_yticks(ticks, scores.labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    peak = max((max(row) for row in scores.confusion), default=0)
    for i, row in enumerate(scores.confusion):
        for j, count in enumerate(row):
            axes.text(j, i, str(count), ha="center", va="center", color="white" if count > peak / 2 else "black")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
