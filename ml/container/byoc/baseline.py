"""A baseline of the training data in SageMaker Model Monitor's format, written next to the model.

``statistics.json`` and ``constraints.json`` follow the schema of Model Monitor's baselining job
("Schema for Statistics" and "Schema for Constraints" in the SageMaker guide), so SageMaker's own
tooling (a monitoring schedule's ``BaselineConfig``) can read them. The features are named as
Model Monitor names headerless CSV columns, ``_c0``, ``_c1``, ...: the inference input a capture
records is the feature columns alone, without the label. The class counts of the labels, which
the Model Monitor files have no place for, go to ``labels.json``.

Files live in ``model/baseline/``, so they travel inside ``model.tar.gz`` with the model they
describe: a monitor finds the baseline of the version that served the traffic in its artifact.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from byoc.dataset import Dataset

BASELINE_DIR = "baseline"
BUCKETS = 10  # Model Monitor's KLL distribution reports ten equal-width buckets
SKETCH_K = 2048.0  # KLL parameters Model Monitor writes; the sketch below keeps at most K items
SKETCH_C = 0.64


def feature_name(index: int) -> str:
    return f"_c{index}"


def _buckets(values: NDArray[np.float64]) -> list[dict[str, float]]:
    low, high = float(values.min()), float(values.max())
    edges = np.linspace(low, high, BUCKETS + 1) if high > low else np.array([low] * (BUCKETS + 1))
    counts, _ = np.histogram(values, bins=BUCKETS, range=(low, high) if high > low else (low, low + 1.0))
    return [{"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": float(counts[i])} for i in range(BUCKETS)]


def _sketch(values: NDArray[np.float64]) -> list[list[float]]:
    # Exact while there are at most K values; above that, K evenly spaced order statistics (a
    # deterministic stand-in for KLL's compaction, with the same quantile guarantee order).
    ordered = np.sort(values)
    if ordered.size > SKETCH_K:
        ordered = ordered[np.linspace(0, ordered.size - 1, int(SKETCH_K)).astype(int)]
    return [[float(v) for v in ordered]]


def _columns(data: Dataset) -> Iterator[tuple[str, Any, Any]]:
    """Each feature's name, its column, and the column's present (non-NaN) values."""
    for index in range(data.n_features):
        column = data.features[:, index]
        yield feature_name(index), column, column[~np.isnan(column)]


def statistics(data: Dataset) -> dict[str, Any]:
    features = []
    for name, column, present in _columns(data):
        features.append(
            {
                "name": name,
                "inferred_type": "Fractional",
                "numerical_statistics": {
                    "common": {"num_present": int(present.size), "num_missing": int(column.size - present.size)},
                    "mean": float(present.mean()),
                    "sum": float(present.sum()),
                    "std_dev": float(present.std()),
                    "min": float(present.min()),
                    "max": float(present.max()),
                    "distribution": {
                        "kll": {
                            "buckets": _buckets(present),
                            "sketch": {"parameters": {"c": SKETCH_C, "k": SKETCH_K}, "data": _sketch(present)},
                        }
                    },
                },
            }
        )
    return {"version": 0.0, "dataset": {"item_count": data.rows}, "features": features}


def constraints(data: Dataset) -> dict[str, Any]:
    features = []
    for name, column, present in _columns(data):
        features.append(
            {
                "name": name,
                "inferred_type": "Fractional",
                "completeness": float(present.size / column.size),
                "num_constraints": {"is_non_negative": bool((present >= 0).all())},
            }
        )
    monitoring = {
        "evaluate_constraints": "Enabled",
        "emit_metrics": "Enabled",
        "datatype_check_threshold": 1.0,
        "domain_content_threshold": 1.0,
        "distribution_constraints": {"perform_comparison": "Enabled", "comparison_threshold": 0.1, "comparison_method": "Robust"},
    }
    return {"version": 0.0, "features": features, "monitoring_config": monitoring}


def labels(data: Dataset) -> dict[str, Any]:
    names, counts = np.unique(data.labels.astype(str), return_counts=True)
    return {"item_count": data.rows, "classes": {str(n): int(c) for n, c in zip(names, counts, strict=True)}}


def write(model_dir: Path, data: Dataset) -> Path:
    """Write the three files under ``model_dir/baseline`` (each atomically) and return that folder."""
    folder = model_dir / BASELINE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, document in (("statistics.json", statistics(data)), ("constraints.json", constraints(data)), ("labels.json", labels(data))):
        temporary = folder / f".{name}.tmp"
        temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        temporary.replace(folder / name)
    return folder
