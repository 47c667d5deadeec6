"""scikit-learn's decision tree classifier behind the :class:`~byoc.algorithm.Algorithm` interface.

Training uses scikit-learn; serving does not. At training the fitted tree's arrays are exported
to ``tree.npz`` (plain numeric and string arrays, read back with ``allow_pickle=False``) and the
server walks them with numpy, so ``serve`` imports neither scikit-learn, scipy nor skops (about
3 s of CPU and 130 MB per process). ``model.skops`` stays the canonical,
portable artifact; the server verifies its checksum with every other file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from byoc.algorithm import Features, Hyperparameter, int_at_least, one_of
from byoc.errors import AlgorithmError, ArtifactError

if TYPE_CHECKING:
    from sklearn.tree import DecisionTreeClassifier

# The tree compares float32 features (sklearn's DTYPE) with float64 thresholds; cast the same way.
_TREE_DTYPE = np.float32
TREE_FILE = "tree.npz"
_LEAF = -1  # sklearn's TREE_LEAF: both children of a leaf
_INT = np.int64
_ARRAYS = ("children_left", "children_right", "feature", "threshold", "leaf_class", "classes", "n_features")


def export_arrays(model: DecisionTreeClassifier) -> dict[str, NDArray[Any]]:
    """The fitted tree as plain arrays: enough to predict exactly as ``model.predict`` does."""
    tree = model.tree_
    classes = np.asarray(model.classes_)
    if classes.dtype == object:
        if not all(isinstance(label, str) for label in classes.tolist()):
            raise AlgorithmError(f"class labels {classes.tolist()!r} are neither all strings nor all numbers")
        classes = classes.astype(str)
    if classes.dtype.kind not in "iufU":
        raise AlgorithmError(f"class labels of dtype {classes.dtype} cannot be exported without pickle")
    return {
        "children_left": np.asarray(tree.children_left, dtype=_INT),
        "children_right": np.asarray(tree.children_right, dtype=_INT),
        "feature": np.asarray(tree.feature, dtype=_INT),
        "threshold": np.asarray(tree.threshold, dtype=np.float64),
        # value has shape (nodes, outputs, classes); argmax per node is what predict() takes.
        "leaf_class": np.argmax(tree.value[:, 0, :], axis=1).astype(_INT),
        "classes": classes,
        "n_features": np.asarray(model.n_features_in_, dtype=_INT),
    }


class TreePredictor:
    """Walks the exported tree with numpy, one depth level at a time, for all rows at once.

    Bit-identical to ``DecisionTreeClassifier.predict``, which casts features to float32 and
    compares them ``<=`` with float64 thresholds: each threshold is stored as the largest float32
    not above it, so the float32 comparison gives the same answer for every float32 feature.
    Leaves point to themselves, so every row takes ``depth`` steps; rows that reached a leaf are
    dropped every few levels once they are half of those left. A handful of rows (a real-time
    request) walks in plain Python, which is faster than numpy's per-call overhead. The arrays are
    validated first, so a malformed file is refused rather than looping or indexing out of range.
    """

    def __init__(self, *, arrays: Mapping[str, NDArray[Any]]) -> None:
        left, right, feature, threshold, leaf_class, classes = _validated(arrays)
        self.n_features: int = int(arrays["n_features"])
        self.classes: NDArray[Any] = classes
        internal = left != _LEAF
        ids = np.arange(left.shape[0], dtype=np.intp)
        # Node k lives at 2k; child slot 2k + (x <= threshold) holds 2 * (right or left child).
        self._children = (2 * np.stack([np.where(internal, right, ids), np.where(internal, left, ids)], axis=1)).ravel()
        self._feature = np.repeat(np.where(internal, feature, 0), 2).astype(np.intp)
        self._threshold = np.repeat(np.where(internal, _float32_at_or_below(threshold), np.float32(np.inf)), 2).astype(_TREE_DTYPE)
        self._internal = np.repeat(internal, 2)
        self._labels: NDArray[Any] = np.repeat(classes[leaf_class], 2)
        self.depth: int = _depth(left, right, internal)
        self._slow = (self._children.tolist(), self._feature.tolist(), self._threshold.tolist())

    def leaves(self, features: Features) -> NDArray[np.intp]:
        """The leaf each row lands in (what ``tree_.apply`` returns)."""
        return self._walk(features) // 2

    def predict(self, features: Features) -> NDArray[Any]:
        labels: NDArray[Any] = self._labels[self._walk(features)]
        return labels

    def _walk(self, features: Features) -> NDArray[np.intp]:
        x = np.ascontiguousarray(features, dtype=_TREE_DTYPE)
        n, width = x.shape
        if n <= _PYTHON_ROWS:
            children, feature, threshold = self._slow
            ends = []
            for row in x.tolist():
                at = 0
                for _ in range(self.depth):
                    at = children[at + (row[feature[at]] <= threshold[at])]
                ends.append(at)
            return np.array(ends, dtype=np.intp)
        flat = x.reshape(-1)
        offsets = np.arange(0, n * width, width, dtype=np.intp)
        node = np.zeros(n, dtype=np.intp)
        done: NDArray[np.intp] | None = None
        rows = np.arange(n, dtype=np.intp)
        for level in range(1, self.depth + 1):
            node = self._children[node + (flat[offsets + self._feature[node]] <= self._threshold[node])]
            if level % 4 == 0 and level < self.depth:
                walking = self._internal[node]
                if np.count_nonzero(walking) < node.shape[0] // 2:
                    if done is None:
                        done = node.copy()
                    else:
                        done[rows] = node
                    rows, node, offsets = rows[walking], node[walking], offsets[walking]
        if done is None:
            return node
        done[rows] = node
        return done


_PYTHON_ROWS = 4


def _float32_at_or_below(threshold: NDArray[np.float64]) -> NDArray[np.float32]:
    """The largest float32 <= each threshold: for float32 x, ``x <= t`` iff ``x <= this``."""
    rounded = threshold.astype(_TREE_DTYPE)
    above = rounded.astype(np.float64) > threshold
    rounded[above] = np.nextafter(rounded[above], _TREE_DTYPE(-np.inf))
    return rounded


def _depth(left: NDArray[np.int64], right: NDArray[np.int64], internal: NDArray[np.bool_]) -> int:
    """Levels below the root; ends because children are numbered after their parents (validated)."""
    depth, frontier = 0, np.zeros(1, dtype=np.int64)
    while True:
        frontier = frontier[internal[frontier]]
        if frontier.size == 0:
            return depth
        frontier = np.concatenate([left[frontier], right[frontier]])
        depth += 1


def _validated(arrays: Mapping[str, NDArray[Any]]) -> tuple[NDArray[Any], ...]:
    """The tree's arrays, checked so that traversal terminates and every index is in range."""
    missing = [name for name in _ARRAYS if name not in arrays]
    if missing:
        raise ArtifactError(f"{TREE_FILE} lacks {', '.join(missing)}")
    left, right, feature, threshold, leaf_class, classes, count = (np.asarray(arrays[name]) for name in _ARRAYS)
    if count.shape != () or count.dtype.kind != "i" or int(count) < 1:
        raise ArtifactError(f"{TREE_FILE} n_features is not a positive whole number")
    n_features = int(count)
    nodes = left.shape[0] if left.ndim == 1 else 0
    if nodes == 0 or any(a.ndim != 1 or a.shape[0] != nodes for a in (right, feature, threshold, leaf_class)):
        raise ArtifactError(f"{TREE_FILE} arrays are not 1-D arrays of one node count")
    if any(a.dtype.kind != "i" for a in (left, right, feature, leaf_class)) or threshold.dtype.kind != "f":
        raise ArtifactError(f"{TREE_FILE} arrays have unexpected dtypes")
    if classes.ndim != 1 or classes.shape[0] < 1 or classes.dtype.kind not in "iufU":
        raise ArtifactError(f"{TREE_FILE} classes are not a 1-D array of numbers or strings")
    left, right, feature, leaf_class = (a.astype(_INT) for a in (left, right, feature, leaf_class))
    internal = left != _LEAF
    ids = np.arange(nodes)
    # sklearn numbers a child after its parent; requiring it proves the walk ends (no cycles).
    if np.any((right != _LEAF) != internal) or np.any(internal & ((left <= ids) | (right <= ids) | (left >= nodes) | (right >= nodes))):
        raise ArtifactError(f"{TREE_FILE} children do not form a tree")
    if np.any(internal & ((feature < 0) | (feature >= n_features))) or np.any(~np.isfinite(threshold[internal])):
        raise ArtifactError(f"{TREE_FILE} splits on a feature outside 0..{n_features - 1} or at a non-finite threshold")
    if np.any((leaf_class < 0) | (leaf_class >= classes.shape[0])):
        raise ArtifactError(f"{TREE_FILE} maps a leaf to a class outside its {classes.shape[0]} classes")
    return left, right, feature, threshold.astype(np.float64), leaf_class, classes


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
    serving_files: tuple[str, ...] = (TREE_FILE,)

    def trusted_types(self) -> list[str]:
        # Exactly what a fitted classifier contains; anything else in a file is refused on load.
        return ["sklearn.tree._classes.DecisionTreeClassifier", "sklearn.tree._tree.Tree"]

    def fit(self, features: Features, labels: NDArray[Any], params: Mapping[str, Any]) -> DecisionTreeClassifier:
        from sklearn.tree import DecisionTreeClassifier  # training only: serve never imports sklearn

        model = DecisionTreeClassifier(**params)
        model.fit(features, labels)
        return model

    def predictor(self, model: Any) -> TreePredictor:
        """The serving predictor built straight from a fitted estimator (train's metrics use it)."""
        return TreePredictor(arrays=export_arrays(model))

    def describe(self, model: Any) -> tuple[int, list[Any]]:
        return int(model.n_features_in_), list(model.classes_.tolist())

    def export(self, model: Any, model_dir: Path) -> None:
        """Write ``tree.npz`` beside ``model.skops`` (np.savez: no pickled objects)."""
        arrays = export_arrays(model)
        TreePredictor(arrays=arrays)  # refuse to write what serve would refuse
        with (model_dir / TREE_FILE).open("wb") as handle:
            np.savez(handle, allow_pickle=False, **arrays)

    def load_predictor(self, model_dir: Path, *, n_features: int, classes: list[Any]) -> TreePredictor:
        """Read the verified ``tree.npz``; pickled content is refused (``allow_pickle=False``)."""
        path = model_dir / TREE_FILE
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except Exception as err:  # a hostile or damaged file: zip, format or pickle errors
            raise ArtifactError(f"{path} could not be read safely: {type(err).__name__}: {err}") from None
        predictor = TreePredictor(arrays=arrays)
        stored = (predictor.n_features, predictor.classes.tolist())
        if stored != (n_features, classes):
            raise ArtifactError(f"{path} has {stored[0]} features and classes {stored[1]}, manifest says {n_features} and {classes}")
        return predictor
