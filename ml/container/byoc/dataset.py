"""Training channels: CSV files with the label in the first column and no header.

Training is not the hot path, so this favours precise error messages (file and line) over speed.
Labels are class names (``setosa``) or numbers; a column that mixes the two is an error.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from byoc.errors import UserError


@dataclass(frozen=True, kw_only=True)
class Dataset:
    features: NDArray[np.float64]
    labels: NDArray[Any]

    @property
    def rows(self) -> int:
        return int(self.features.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.features.shape[1])


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def channel_files(channel_dir: Path) -> list[Path]:
    """The data files of a channel, in a stable order; hidden files (``.manifest``, ...) are skipped."""
    if not channel_dir.is_dir():
        raise UserError(f"channel directory {channel_dir} does not exist; provide the channel's CSV files there")
    return sorted(p for p in channel_dir.rglob("*") if p.is_file() and not p.name.startswith("."))


def _read_rows(path: Path) -> list[tuple[int, str, list[float]]]:
    rows: list[tuple[int, str, list[float]]] = []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for line_no, row in enumerate(csv.reader(handle), start=1):
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) < 2:
                    raise UserError(f"{path}:{line_no}: expected a label and at least one feature, got {len(row)} column")
                features: list[float] = []
                for column, cell in enumerate(row[1:], start=2):
                    value = _number(cell)
                    if value is None:
                        raise UserError(f"{path}:{line_no}: column {column} is {cell!r}, not a finite number")
                    features.append(value)
                label = row[0].strip()
                if not label:
                    raise UserError(f"{path}:{line_no}: the label (column 1) is empty")
                rows.append((line_no, label, features))
    except UnicodeDecodeError as err:
        raise UserError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start}); provide CSV files") from None
    return rows


def _labels(raw: list[tuple[Path, int, str]]) -> NDArray[Any]:
    numeric = [_number(label) for _, _, label in raw]
    if all(value is None for value in numeric):
        return np.array([label for _, _, label in raw])
    for (path, line_no, label), value in zip(raw, numeric, strict=True):
        if value is None:
            raise UserError(f"{path}:{line_no}: label {label!r} is not numeric, but other labels in the channel are numbers")
    values = np.array(numeric, dtype=np.float64)
    # Whole-number labels stay integers, so predictions read 1 rather than 1.0.
    return values.astype(np.int64) if np.all(values == np.round(values)) else values


def read_channel(channel_dir: Path, *, name: str) -> Dataset:
    """Read every CSV file of a channel into one dataset; empty or ragged input is an error."""
    files = channel_files(channel_dir)
    if not files:
        raise UserError(f"the {name} channel ({channel_dir}) has no files")
    features: list[list[float]] = []
    raw_labels: list[tuple[Path, int, str]] = []
    width: int | None = None
    for path in files:
        for line_no, label, row in _read_rows(path):
            if width is None:
                width = len(row)
            elif len(row) != width:
                raise UserError(f"{path}:{line_no}: {len(row)} features, but earlier rows have {width}")
            features.append(row)
            raw_labels.append((path, line_no, label))
    if not features:
        raise UserError(f"the {name} channel ({channel_dir}) has only empty files; it needs rows of label,feature,...")
    return Dataset(features=np.array(features, dtype=np.float64), labels=_labels(raw_labels))
