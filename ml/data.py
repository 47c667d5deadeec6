"""The sample data: iris as CSV with the label in the first column, as in the original sample.

Written from scikit-learn's bundled copy, so nothing is downloaded.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path


def write_iris_csv(path: Path) -> int:
    """Write iris (``label,f1,f2,f3,f4``, no header) to ``path`` atomically; return the row count."""
    # Imported here: scikit-learn costs ~2 s and ~100 MB, and importers (the lifecycle, the
    # benchmarks) call this only when the sample file is missing.
    from sklearn.datasets import load_iris

    iris = load_iris()
    names = iris.target_names
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n")
            for label, row in zip(iris.target, iris.data, strict=True):
                writer.writerow([names[label], *(f"{x:.1f}" for x in row)])
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(iris.target)
