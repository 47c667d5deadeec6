"""Fixed baselines and SageMaker capture files for the monitor's tests (no randomness)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ENDPOINT = "monitored-endpoint"
VARIANT = "AllTraffic"
# One feature over [0, 10] in ten unit buckets of 10 training values each; two balanced classes.
EDGES = [float(i) for i in range(11)]
TRAINING_COUNTS = [10.0] * 10
TRAINING_CLASSES = {"a": 50, "b": 50}


def baseline_documents(
    *, edges: Sequence[float] = EDGES, counts: Sequence[float] = TRAINING_COUNTS, classes: dict[str, int] | None = None
) -> dict[str, Any]:
    buckets = [{"lower_bound": edges[i], "upper_bound": edges[i + 1], "count": counts[i]} for i in range(len(counts))]
    total = int(sum(counts))
    numbers = {
        "common": {"num_present": total, "num_missing": 0},
        "min": edges[0],
        "max": edges[-1],
        "distribution": {"kll": {"buckets": buckets, "sketch": {"parameters": {"c": 0.64, "k": 2048.0}, "data": [[]]}}},
    }
    return {
        "statistics.json": {
            "version": 0.0,
            "dataset": {"item_count": total},
            "features": [{"name": "_c0", "inferred_type": "Fractional", "numerical_statistics": numbers}],
        },
        "constraints.json": {"version": 0.0, "features": [{"name": "_c0", "inferred_type": "Fractional", "completeness": 1.0}]},
        "labels.json": {"item_count": total, "classes": dict(classes or TRAINING_CLASSES)},
    }


def write_baseline(folder: Path, **kwargs: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, document in baseline_documents(**kwargs).items():
        (folder / name).write_text(json.dumps(document), encoding="utf-8")
    return folder


def capture_line(
    *, rows: Sequence[str], predictions: Sequence[str], at: datetime, event: str = "e", variant: str = "", status: int = 0
) -> str:
    """One record as SageMaker writes it: CSV text in and out, the inference time in UTC.

    ``variant`` and ``status`` add what the local router records beside SageMaker's fields.
    """
    metadata: dict[str, Any] = {"eventId": event, "inferenceTime": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    if variant:
        metadata["byocVariant"] = variant
    if status:
        metadata["byocStatus"] = status
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "\n".join(rows), "encoding": "CSV"},
                "endpointOutput": {
                    "observedContentType": "text/csv; charset=utf-8",
                    "mode": "OUTPUT",
                    "data": "\n".join(predictions) + "\n",
                    "encoding": "CSV",
                },
            },
            "eventMetadata": metadata,
            "eventVersion": "0",
        }
    )


def error_line(*, rows: Sequence[str], message: str, at: datetime, status: int = 400, variant: str = "") -> str:
    """A record whose answer was an error: the model server's text/plain message, base64 as SageMaker keeps it."""
    document = json.loads(capture_line(rows=rows, predictions=[], at=at, variant=variant, status=status))
    document["captureData"]["endpointOutput"] = {
        "observedContentType": "text/plain; charset=utf-8",
        "mode": "OUTPUT",
        "data": base64.b64encode(message.encode()).decode(),
        "encoding": "BASE64",
    }
    return json.dumps(document)


def capture_key(*, at: datetime, name: str = "part-0.jsonl", endpoint: str = ENDPOINT, variant: str = VARIANT) -> str:
    return f"{endpoint}/{variant}/{at:%Y/%m/%d/%H}/{name}"


def write_capture(root: Path, lines: Sequence[str], *, at: datetime, name: str = "part-0.jsonl") -> Path:
    path = root / capture_key(at=at, name=name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def values_lines(values: Sequence[float | str], predictions: Sequence[str], *, at: datetime, variant: str = "") -> list[str]:
    """One record per value (one CSV row each), with its prediction."""
    return [
        capture_line(rows=[str(v)], predictions=[p], at=at, event=f"e{i}", variant=variant)
        for i, (v, p) in enumerate(zip(values, predictions, strict=True))
    ]
