"""The small interface between the SageMaker contract code and the model.

To bring another model, implement :class:`Algorithm` and list it in :func:`algorithms`; the
train program, the artifact format and the server do not change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from byoc.constants import PLATFORM_HYPERPARAMETER_PREFIXES
from byoc.errors import UserError

Features = NDArray[np.float64]


class Predictor(Protocol):
    """A loaded model, ready for the hot path: no validation beyond what the server already did."""

    n_features: int

    def predict(self, features: Features) -> NDArray[Any]:
        """One label per row of a finite, 2-D float64 array with ``n_features`` columns."""


class Algorithm(Protocol):
    """What ``train`` and ``serve`` need from a model family.

    ``train`` fits, stores the estimator as ``model.skops`` and calls :meth:`export` for any
    serving files; ``serve`` verifies every file's checksum, then calls :meth:`load_predictor`.
    An algorithm without serving files can load its estimator there with
    :func:`byoc.artifact.load_estimator` (skops, with :meth:`trusted_types`).
    """

    name: str
    hyperparameters: tuple[Hyperparameter, ...]
    # Files besides model.skops that export() writes and load_predictor() reads; listed in the manifest.
    serving_files: tuple[str, ...]

    def trusted_types(self) -> list[str]:
        """Fully qualified type names that skops may instantiate when loading this model."""

    def fit(self, features: Features, labels: NDArray[Any], params: Mapping[str, Any]) -> Any:
        """Train on the rows and return the fitted estimator (what the artifact stores)."""

    def predictor(self, model: Any) -> Predictor:
        """The serving predictor for a fitted estimator (train's metrics use it)."""

    def export(self, model: Any, model_dir: Path) -> None:
        """Write :attr:`serving_files` for a fitted estimator into ``model_dir``."""

    def load_predictor(self, model_dir: Path, *, n_features: int, classes: list[Any]) -> Predictor:
        """The serving predictor from a verified ``model_dir`` (checksums already checked)."""

    def describe(self, model: Any) -> tuple[int, list[Any]]:
        """``(feature count, class labels)`` of a fitted estimator, recorded in the manifest."""


@dataclass(frozen=True, kw_only=True)
class Hyperparameter:
    """One hyperparameter: SageMaker passes every value as a string, so each has a parser."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    form: str

    def read(self, raw: str) -> Any:
        try:
            return self.parse(raw)
        except (ValueError, TypeError):
            raise UserError(f"hyperparameter {self.name}={raw!r} is not valid; expected {self.form}") from None


def int_at_least(low: int, *, allow_none: bool = False) -> Callable[[str], int | None]:
    """A parser for whole numbers ``>= low``; ``"None"`` or empty means no limit when allowed."""

    def parse(raw: str) -> int | None:
        text = raw.strip()
        if allow_none and text.lower() in ("", "none", "null"):
            return None
        value = int(text)
        if value < low:
            raise ValueError(raw)
        return value

    return parse


def one_of(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError(raw)
        return raw

    return parse


def parse_hyperparameters(algorithm: Algorithm, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with ``raw``; unknown names are an error, platform-added ones are ignored."""
    known = {h.name: h for h in algorithm.hyperparameters}
    params = {h.name: h.default for h in algorithm.hyperparameters}
    for name, value in raw.items():
        if name.startswith(PLATFORM_HYPERPARAMETER_PREFIXES):
            continue
        if name not in known:
            raise UserError(f"unknown hyperparameter {name!r}; {algorithm.name} accepts {', '.join(sorted(known))}")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise UserError(f"hyperparameter {name} must be a string (SageMaker passes strings), got {value!r}")
        params[name] = known[name].read(str(value))
    return params


def algorithms() -> dict[str, Algorithm]:
    """Every algorithm the container can train and serve, by the name stored in the manifest."""
    from byoc.decision_tree import DecisionTree

    tree = DecisionTree()
    return {tree.name: tree}


def default_algorithm() -> Algorithm:
    """The algorithm ``train`` uses."""
    return algorithms()["decision-tree"]
