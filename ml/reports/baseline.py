"""The baseline summary a report shows: what training wrote to ``model/baseline/``.

A version trained before baselines existed (or an artifact someone trimmed) has no such files:
the summary then lists which are missing and the report says so, instead of refusing to exist,
because its metrics are still worth reading before an approval.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.errors import UserInputError

BASELINE_DIR = "baseline"  # byoc.baseline.BASELINE_DIR: the folder inside model.tar.gz
FILES = ("statistics.json", "constraints.json", "labels.json")


@dataclass(frozen=True, kw_only=True)
class FeatureSummary:
    name: str
    present: int
    missing: int
    mean: float
    minimum: float
    maximum: float
    completeness: float  # from constraints.json; the share of rows a capture must fill


@dataclass(frozen=True, kw_only=True)
class BaselineSummary:
    item_count: int = 0
    features: tuple[FeatureSummary, ...] = ()
    classes: tuple[tuple[str, int], ...] = ()  # (label, training rows), from labels.json
    missing: tuple[str, ...] = ()  # baseline files the artifact lacks


def _load(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserInputError(f"baseline file {path} is unreadable ({err}); retrain the version to rewrite it") from err
    if not isinstance(document, dict):
        raise UserInputError(f"baseline file {path} is not a JSON object; retrain the version to rewrite it")
    return document


def summarize(model_dir: Path) -> BaselineSummary:
    """The summary of ``model_dir/baseline``; absent files are named in ``missing``."""
    folder = model_dir / BASELINE_DIR
    missing = tuple(name for name in FILES if not (folder / name).is_file())
    if missing:
        return BaselineSummary(missing=missing)
    statistics, constraints, labels = (_load(folder / name) for name in FILES)
    completeness = {str(f.get("name")): float(f.get("completeness", 0.0)) for f in constraints.get("features", [])}
    try:
        features = tuple(
            FeatureSummary(
                name=str(f["name"]),
                present=int(f["numerical_statistics"]["common"]["num_present"]),
                missing=int(f["numerical_statistics"]["common"]["num_missing"]),
                mean=float(f["numerical_statistics"]["mean"]),
                minimum=float(f["numerical_statistics"]["min"]),
                maximum=float(f["numerical_statistics"]["max"]),
                completeness=completeness.get(str(f["name"]), 0.0),
            )
            for f in statistics.get("features", [])
        )
        classes = tuple(sorted((str(k), int(v)) for k, v in labels["classes"].items()))
        item_count = int(statistics["dataset"]["item_count"])
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        missing_field = f"the baseline in {folder} lacks a field Model Monitor's schema requires ({err!r})"
        raise UserInputError(f"{missing_field}; retrain the version") from err
    return BaselineSummary(item_count=item_count, features=features, classes=classes)
