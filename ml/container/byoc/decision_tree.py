"""scikit-learn's decision tree classifier behind the :class:`~byoc.algorithm.Algorithm` interface."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.tree import DecisionTreeClassifier

from byoc.algorithm import Features, Hyperparameter, int_at_least, one_of

# The tree compares float32 features (sklearn's DTYPE); predict() casts the same way.
_TREE_DTYPE = np.float32


class TreePredictor:
    """Predicts through the fitted tree's low-level ``apply`` and a leaf→label table.

    ``DecisionTreeClassifier.predict`` validates its input on every call (about 160 µs); the
    server has already checked shape and finiteness, so the hot path skips straight to the
    Cython traversal.
    """

    def __init__(self, *, model: DecisionTreeClassifier) -> None:
        tree = model.tree_
        self.n_features: int = int(model.n_features_in_)
        self._tree = tree
        # value has shape (nodes, outputs, classes); argmax per node is what predict() takes.
        self._leaf_labels: NDArray[Any] = model.classes_[np.argmax(tree.value[:, 0, :], axis=1)]

    def predict(self, features: Features) -> NDArray[Any]:
        leaves = self._tree.apply(np.ascontiguousarray(features, dtype=_TREE_DTYPE))
        labels: NDArray[Any] = self._leaf_labels[leaves]
        return labels


class DecisionTree:
    """Classification tree on numeric features; labels may be class names or numbers."""

    name: str = "decision-tree"
    hyperparameters: tuple[Hyperparameter, ...] = (
        Hyperparameter(name="max_leaf_nodes", parse=int_at_least(2, allow_none=True), default=None, form="a whole number >= 2, or None"),
        Hyperparameter(name="max_depth", parse=int_at_least(1, allow_none=True), default=None, form="a whole number >= 1, or None"),
        Hyperparameter(name="random_state", parse=int_at_least(0), default=0, form="a whole number >= 0"),
        Hyperparameter(name="min_samples_split", parse=int_at_least(2), default=2, form="a whole number >= 2"),
        Hyperparameter(name="min_samples_leaf", parse=int_at_least(1), default=1, form="a whole number >= 1"),
        Hyperparameter(name="criterion", parse=one_of("gini", "entropy", "log_loss"), default="gini", form="gini, entropy or log_loss"),
    )

    def trusted_types(self) -> list[str]:
        # Exactly what a fitted classifier contains; anything else in a file is refused on load.
        return ["sklearn.tree._classes.DecisionTreeClassifier", "sklearn.tree._tree.Tree"]

    def fit(self, features: Features, labels: NDArray[Any], params: Mapping[str, Any]) -> DecisionTreeClassifier:
        model = DecisionTreeClassifier(**params)
        model.fit(features, labels)
        return model

    def predictor(self, model: Any) -> TreePredictor:
        return TreePredictor(model=model)

    def describe(self, model: Any) -> tuple[int, list[Any]]:
        return int(model.n_features_in_), list(model.classes_.tolist())
