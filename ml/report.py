"""Plain-text rendering of lifecycle records, and the small parsers the tasks share."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ml.backends.records import ModelVersion
from ml.errors import UserInputError


def _value(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True) if value else "-"
    return str(value) if value not in ("", None) else "-"


def render(record: Any) -> str:
    """A record as aligned ``key  value`` lines, headed by its kind."""
    data: dict[str, Any] = record.to_dict() if hasattr(record, "to_dict") else dict(record)
    width = max((len(k) for k in data), default=0)
    lines = [f"[{type(record).__name__}]"]
    for key, val in data.items():
        if isinstance(val, (list, tuple)) and val and all(isinstance(item, str) for item in val):
            # Lines of prose (an endpoint's health): one per line, under the key.
            lines += [f"  {key.ljust(width)}  {val[0]}", *(f"  {'':{width}}  {item}" for item in val[1:])]
        else:
            lines.append(f"  {key.ljust(width)}  {_value(val)}")
    return "\n".join(lines)


# What the container trains when the version's hyperparameters name no algorithm (byoc.algorithm's default).
DEFAULT_ALGORITHM = "decision-tree"
DATA_VERSION_CHARS = 12  # enough of a SHA-256 or an S3 version id to tell versions apart in a table


def _algorithm(version: ModelVersion) -> str:
    return version.lineage.hyperparameters.get("algorithm") or f"{DEFAULT_ALGORITHM} (default)"


def _data_version(version: ModelVersion) -> str:
    """``training=<v> validation=<v>`` (SageMaker) or a bare digest (local), each value shortened."""
    parts = version.lineage.data_version.split()
    short = [f"{name}{sep}{value[:DATA_VERSION_CHARS]}" for name, sep, value in (p.rpartition("=") for p in parts)]
    return " ".join(short) or "-"


def render_versions(versions: Sequence[ModelVersion], *, serving: int | None = None) -> str:
    """Model versions newest first: version (``*`` on the one serving), approval, algorithm, data version, metrics, job."""
    if not versions:
        return "no model versions registered yet; run `invoke train`"
    rows = [("version", "approval", "algorithm", "data version", "metrics", "training job", "created")]
    for v in sorted(versions, key=lambda item: item.version, reverse=True):
        metrics = " ".join(f"{k}={val:.4f}" for k, val in sorted(v.metrics.items())) or "-"
        number = f"{v.version} *serving" if v.version == serving else str(v.version)
        rows.append((number, v.approval_status, _algorithm(v), _data_version(v), metrics, v.training_job or "-", v.created_at or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def parse_pairs(items: Iterable[str], *, what: str) -> dict[str, str]:
    """``NAME=VALUE`` strings to a dict; a malformed item names the flag and the form."""
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserInputError(f"{what} {item!r} must look like NAME=VALUE, for example max_depth=4")
        pairs[name.strip()] = value.strip()
    return pairs


def sample_request(path: Path, *, rows: int) -> tuple[bytes, list[str]]:
    """The first ``rows`` rows of a labelled CSV as an unlabelled CSV body, plus their labels."""
    if rows < 1:
        raise UserInputError(f"--rows must be at least 1, not {rows}")
    if not path.is_file():
        raise UserInputError(f"{path} not found; write the sample data with `invoke data`")
    with path.open(newline="", encoding="utf-8") as handle:
        records = [record for record in csv.reader(handle) if record]
    if not records:
        raise UserInputError(f"{path} has no rows; rewrite it with `invoke data`")
    # The sample file is sorted by label, so take evenly spaced rows to show every class.
    step = max(1, len(records) // rows)
    chosen = records[::step][:rows]
    body = "".join(",".join(record[1:]) + "\n" for record in chosen)
    return body.encode(), [record[0] for record in chosen]
