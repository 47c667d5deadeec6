"""The ``train`` program: the SageMaker training contract around an :class:`~byoc.algorithm.Algorithm`.

Reads ``input/config/hyperparameters.json`` and the ``training`` (required) and ``validation``
(optional) channels under ``SAGEMAKER_BASE_DIR``; writes the artifact to ``model/``, a baseline of
the training data to ``model/baseline/`` (:mod:`byoc.baseline`) and metrics to
``output/data/metrics.json``; prints ``<channel>:accuracy=0.9800`` lines for
``MetricDefinitions``. Any failure is written to ``output/failure`` and the exit status is 1.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from byoc import artifact, baseline
from byoc.algorithm import Algorithm, default_algorithm, parse_hyperparameters
from byoc.constants import TRAINING_CHANNEL, VALIDATION_CHANNEL
from byoc.dataset import Dataset, read_channel
from byoc.environment import Environment, base_dir_from_environ
from byoc.errors import AlgorithmError, ContainerError, UserError
from byoc.logs import configure

log = logging.getLogger(__name__)
# SageMaker keeps the first 1 KiB of output/failure as the job's FailureReason.
_FAILURE_LIMIT = 1024
_CSV_TYPES = ("text/csv", "csv")


def _read_json(path: Path, *, required: bool) -> Any:
    if not path.exists():
        if required:
            raise UserError(f"{path} is missing")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path} is not valid JSON: {err}") from None


def _check_input_config(env: Environment) -> None:
    """Validate ``inputdataconfig.json`` when SageMaker wrote one (absent when run locally)."""
    config = _read_json(env.config_dir / "inputdataconfig.json", required=False)
    if config is None:
        return
    if not isinstance(config, dict) or TRAINING_CHANNEL not in config:
        raise UserError(f"inputdataconfig.json declares no {TRAINING_CHANNEL!r} channel; add one with your CSV data")
    for channel, declared in config.items():
        settings = declared if isinstance(declared, dict) else {}
        content_type = str(settings.get("ContentType", "text/csv")).split(";")[0].strip().lower()
        if content_type not in _CSV_TYPES:
            raise UserError(f"channel {channel!r} has ContentType {content_type!r}; this algorithm reads text/csv")
        if settings.get("TrainingInputMode", "File") == "Pipe":
            raise UserError(f"channel {channel!r} uses Pipe mode; use File or FastFile")


def _log_resources(env: Environment) -> None:
    resources = _read_json(env.config_dir / "resourceconfig.json", required=False)
    if isinstance(resources, dict):
        hosts = resources.get("hosts") or []
        log.info("running on %s of hosts %s", resources.get("current_host"), hosts)
        if len(hosts) > 1:
            log.warning("this algorithm trains on one host; every host trains the same model")


def _accuracy(algorithm: Algorithm, model: Any, data: Dataset) -> float:
    predicted = algorithm.predictor(model).predict(data.features)
    return float(np.mean(predicted == data.labels))


def _check_served_like_fitted(env: Environment, model: Any, data: Dataset) -> None:
    """Load the artifact as ``serve`` will and refuse it unless it predicts exactly like the estimator."""
    served = artifact.load(env.model_dir).predictor.predict(data.features)
    if not np.array_equal(served, model.predict(data.features)):
        raise AlgorithmError(f"the exported model in {env.model_dir} predicts differently from the fitted estimator")


def train(env: Environment, *, algorithm: Algorithm | None = None) -> dict[str, float]:
    """Run one training job in ``env``'s tree and return its metrics."""
    algo = algorithm or default_algorithm()
    _check_input_config(env)
    _log_resources(env)
    raw = _read_json(env.config_dir / "hyperparameters.json", required=False) or {}
    if not isinstance(raw, dict):
        raise UserError("hyperparameters.json must be a JSON object of name to string value")
    params = parse_hyperparameters(algo, raw)
    log.info("training %s with %s", algo.name, params)

    training = read_channel(env.channel_dir(TRAINING_CHANNEL), name=TRAINING_CHANNEL)
    validation_dir = env.channel_dir(VALIDATION_CHANNEL)
    validation = read_channel(validation_dir, name=VALIDATION_CHANNEL) if validation_dir.exists() else None
    if validation is not None and validation.n_features != training.n_features:
        raise UserError(f"validation rows have {validation.n_features} features, training rows have {training.n_features}")
    if len(np.unique(training.labels)) < 2:
        raise UserError("the training channel has a single class; a classifier needs at least two")

    try:
        model = algo.fit(training.features, training.labels, params)
    except (ValueError, TypeError) as err:
        raise AlgorithmError(f"{algo.name} failed to fit: {err}") from err
    metrics = {"train:accuracy": _accuracy(algo, model, training)}
    if validation is not None:
        metrics["validation:accuracy"] = _accuracy(algo, model, validation)

    manifest = artifact.save(model_dir=env.model_dir, algorithm=algo, model=model)
    _check_served_like_fitted(env, model, training)
    baseline.write(env.model_dir, training)
    log.info("wrote %s with %d features and classes %s", env.model_dir, manifest["n_features"], manifest["classes"])
    env.metrics_file.parent.mkdir(parents=True, exist_ok=True)
    env.metrics_file.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return metrics


def write_failure(failure_file: Path, reason: str) -> None:
    """Write ``reason`` to ``output/failure`` as UTF-8 text; never raise (this is the last resort)."""
    try:
        failure_file.parent.mkdir(parents=True, exist_ok=True)
        failure_file.write_text(reason[:_FAILURE_LIMIT] + "\n", encoding="utf-8")
    except OSError:
        log.exception("could not write %s", failure_file)


def main() -> int:
    """Entry point of ``train``: returns the process exit status."""
    configure("INFO")
    failure_file = base_dir_from_environ() / "output" / "failure"
    try:
        env = Environment.from_environ()
        configure(env.log_level)
        metrics = train(env)
    except ContainerError as err:
        log.error("training failed: %s: %s", err.kind, err)
        write_failure(failure_file, f"{err.kind}: {err}")
        return 1
    except Exception as err:
        log.exception("training failed unexpectedly")
        write_failure(failure_file, f"AlgorithmError: {type(err).__name__}: {err}")
        return 1
    for name, value in metrics.items():
        # Stable "name=value" lines on stdout; MetricDefinitions regex: "train:accuracy=([0-9.]+)".
        print(f"{name}={value:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
