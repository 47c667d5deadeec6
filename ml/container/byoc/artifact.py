"""The model artifact: a skops file, the algorithm's serving files, and a manifest that proves them intact.

Why skops and not pickle: SageMaker downloads ``model.tar.gz`` from a bucket, and unpickling
is code execution for anyone who can write that bucket. skops rebuilds only the types it is
told to trust (the algorithm lists them) and refuses the rest, as MLflow 3 does.

``model.skops`` is the canonical, portable model (:func:`load_estimator` rebuilds it, as a
user would, with the algorithm's trusted types). An algorithm may also export serving files that
need neither skops nor scikit-learn (the decision tree writes ``tree.npz``); ``serve`` loads
through :func:`load`, which asks the algorithm for its predictor, so its processes skip the
~3 s, ~130 MB import of skops/scikit-learn/scipy.

The manifest records a format version, library versions, feature count, class labels and the
SHA-256 of every model file. Loading refuses any mismatch, so a swapped, truncated or
incompatible artifact fails ``/ping`` instead of serving wrong answers.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from byoc.algorithm import Algorithm, Predictor, algorithms
from byoc.errors import ArtifactError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MODEL_FILE = "model.skops"
# The libraries whose versions decide whether a stored estimator means the same thing on load.
PINNED_LIBRARIES = ("scikit-learn", "skops", "numpy")


@dataclass(frozen=True, kw_only=True)
class LoadedModel:
    """An artifact that passed every check, with the algorithm's serving predictor."""

    algorithm: Algorithm
    predictor: Predictor
    n_features: int
    classes: list[Any]
    manifest: dict[str, Any]


def library_versions() -> dict[str, str]:
    versions = {name: metadata.version(name) for name in PINNED_LIBRARIES}
    versions["python"] = platform.python_version()
    return versions


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(*, model_dir: Path, algorithm: Algorithm, model: Any) -> dict[str, Any]:
    """Write the model file, the algorithm's serving files and the manifest; return the manifest."""
    import skops.io  # training only: serve never imports skops

    model_dir.mkdir(parents=True, exist_ok=True)
    model_path = model_dir / MODEL_FILE
    skops.io.dump(model, model_path)
    algorithm.export(model, model_dir)
    n_features, classes = algorithm.describe(model)
    manifest = {
        "format_version": FORMAT_VERSION,
        "algorithm": algorithm.name,
        "libraries": library_versions(),
        "n_features": n_features,
        "classes": classes,
        "files": {name: sha256_of(model_dir / name) for name in (MODEL_FILE, *algorithm.serving_files)},
    }
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _read_manifest(model_dir: Path) -> dict[str, Any]:
    path = model_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing; the model directory does not hold an artifact written by train") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArtifactError(f"{path} is unreadable: {err}") from None
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{path} is not a JSON object")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"artifact format_version {manifest.get('format_version')!r} is not supported; expected {FORMAT_VERSION}")
    return manifest


def _check_libraries(manifest: dict[str, Any]) -> None:
    stored = manifest.get("libraries") or {}
    running = library_versions()
    for name in PINNED_LIBRARIES:
        if stored.get(name) != running[name]:
            raise ArtifactError(f"artifact was written with {name} {stored.get(name)!r} but this container runs {running[name]}; retrain")


def _check_files(model_dir: Path, manifest: dict[str, Any], algorithm: Algorithm) -> None:
    files = manifest.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise ArtifactError(f"manifest lists no {MODEL_FILE} checksum")
    # Names are plain file names; anything else could point the check outside model_dir.
    for name in files:
        if not isinstance(name, str) or Path(name).name != name:
            raise ArtifactError(f"manifest lists an invalid file name {name!r}")
    # Every file the algorithm serves from must be listed, and so checked.
    for name in algorithm.serving_files:
        if name not in files:
            raise ArtifactError(f"manifest lists no {name} checksum")
    for name, expected in files.items():
        path = model_dir / name
        if not path.is_file():
            raise ArtifactError(f"{path} is listed in the manifest but missing")
        actual = sha256_of(path)
        if actual != expected:
            raise ArtifactError(f"{path} SHA-256 is {actual}, manifest says {expected}; the artifact was modified or truncated")


def _verified(model_dir: Path) -> tuple[Algorithm, dict[str, Any], int, list[Any]]:
    """Manifest, algorithm, library versions and every file's checksum; no model file is parsed."""
    manifest = _read_manifest(model_dir)
    algorithm = algorithms().get(str(manifest.get("algorithm")))
    if algorithm is None:
        raise ArtifactError(f"artifact algorithm {manifest.get('algorithm')!r} is not one this container serves")
    _check_libraries(manifest)
    _check_files(model_dir, manifest, algorithm)
    n_features, classes = manifest.get("n_features"), manifest.get("classes")
    if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1 or not isinstance(classes, list) or not classes:
        raise ArtifactError(f"manifest n_features {n_features!r} and classes {classes!r} are not a feature count and a list of labels")
    return algorithm, manifest, n_features, classes


def load(model_dir: Path) -> LoadedModel:
    """Verify the artifact in ``model_dir`` and load its serving predictor; raise :class:`ArtifactError` on any mismatch.

    The algorithm builds the predictor (the decision tree from ``tree.npz``, without skops or
    scikit-learn); it must agree with the manifest's feature count and classes.
    """
    algorithm, manifest, n_features, classes = _verified(model_dir)
    predictor = algorithm.load_predictor(model_dir, n_features=n_features, classes=classes)
    if predictor.n_features != n_features:
        raise ArtifactError(f"{algorithm.name} predictor has {predictor.n_features} features, manifest says {n_features}")
    return LoadedModel(algorithm=algorithm, predictor=predictor, n_features=n_features, classes=classes, manifest=manifest)


def load_estimator(model_dir: Path) -> Any:
    """Verify the artifact and rebuild the canonical ``model.skops`` with skops' trusted types.

    For algorithms that serve the estimator itself, and for checks and users that want the
    scikit-learn object; imports skops (and so scikit-learn and scipy).
    """
    import skops.io

    algorithm, _manifest, n_features, classes = _verified(model_dir)
    try:
        model = skops.io.load(model_dir / MODEL_FILE, trusted=algorithm.trusted_types())
    except Exception as err:  # skops raises its own and many stdlib types for a hostile file
        raise ArtifactError(f"{model_dir / MODEL_FILE} could not be loaded safely: {type(err).__name__}: {err}") from None
    # skops trusts stock scikit-learn types by default, so a different estimator would load; refuse it.
    kind = f"{type(model).__module__}.{type(model).__qualname__}"
    if kind not in algorithm.trusted_types():
        raise ArtifactError(f"{model_dir / MODEL_FILE} holds a {kind}, not a {algorithm.name} model")
    described = algorithm.describe(model)
    if described != (n_features, classes):
        raise ArtifactError(f"model has {described[0]} features and classes {described[1]}, manifest says {n_features} and {classes}")
    return model
