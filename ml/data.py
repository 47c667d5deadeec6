"""The sample data: iris as CSV with the label in the first column, as in the original sample.

Written from scikit-learn's bundled copy, so nothing is downloaded.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ml.atomic import atomic_open


def write_iris_csv(path: Path) -> int:
    """Write iris (``label,f1,f2,f3,f4``, no header) to ``path`` atomically; return the row count."""
    # Imported here: scikit-learn costs ~2 s and ~100 MB, and importers (the lifecycle, the
    # benchmarks) call this only when the sample file is missing.
    from sklearn.datasets import load_iris

    iris = load_iris()
    names = iris.target_names
    with atomic_open(path, newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        for label, row in zip(iris.target, iris.data, strict=True):
            writer.writerow([names[label], *(f"{x:.1f}" for x in row)])
    return len(iris.target)
