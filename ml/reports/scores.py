"""Accuracy, per-class precision and recall and the confusion matrix, from labels and predictions.

Computed with numpy alone (the report's tests check them against scikit-learn independently).
A class that is never predicted has precision 0, as scikit-learn's ``zero_division=0`` reports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ml.errors import UserInputError


@dataclass(frozen=True, kw_only=True)
class ClassScore:
    label: str
    precision: float
    recall: float
    support: int  # rows whose true label is this class


@dataclass(frozen=True, kw_only=True)
class Scores:
    rows: int
    accuracy: float
    classes: tuple[ClassScore, ...]
    confusion: tuple[tuple[int, ...], ...]  # confusion[true][predicted], in the order of ``classes``

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(c.label for c in self.classes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "accuracy": self.accuracy,
            "classes": [{"label": c.label, "precision": c.precision, "recall": c.recall, "support": c.support} for c in self.classes],
            "confusion": [list(row) for row in self.confusion],
        }


def score(labels: Sequence[str], predictions: Sequence[str]) -> Scores:
    """The scores of ``predictions`` against the true ``labels`` (same length, at least one row)."""
    if len(labels) != len(predictions):
        raise UserInputError(f"{len(predictions)} predictions for {len(labels)} labelled rows; the model must answer every row")
    if not labels:
        raise UserInputError("the evaluation data has no rows; a report needs at least one labelled row")
    truth, guess = np.asarray(labels, dtype=str), np.asarray(predictions, dtype=str)
    names = sorted(set(truth.tolist()) | set(guess.tolist()))
    index = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(matrix, ([index[t] for t in truth], [index[g] for g in guess]), 1)
    correct = np.diag(matrix)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    classes = tuple(
        ClassScore(
            label=name,
            precision=float(correct[i] / predicted[i]) if predicted[i] else 0.0,
            recall=float(correct[i] / actual[i]) if actual[i] else 0.0,
            support=int(actual[i]),
        )
        for i, name in enumerate(names)
    )
    return Scores(
        rows=len(labels),
        accuracy=float(correct.sum() / matrix.sum()),
        classes=classes,
        confusion=tuple(tuple(int(v) for v in row) for row in matrix),
    )
