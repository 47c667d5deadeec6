"""Deterministic resource names, so a re-run finds what an earlier run made instead of duplicating it.

SageMaker names are unique per account and region and cannot be reused even after a job fails,
so a training or transform job that failed is retried under ``<name>-a2``, ``-a3``, ...
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

MAX_NAME = 63  # SageMaker's limit for job, model, endpoint and endpoint config names
_PREFIX_ROOM = 40
_CONFIG_NAME = re.compile(r"-v(\d+)-[0-9a-f]{6}$")


def fingerprint(*parts: Any, length: int = 10) -> str:
    """A short, stable hash of JSON-serialisable inputs."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


def _prefix(name: str) -> str:
    return name[:_PREFIX_ROOM].rstrip("-")


def attempt_name(base: str, attempt: int) -> str:
    """The name of attempt ``attempt`` (1-based); the first attempt keeps the bare name."""
    return base if attempt == 1 else f"{base}-a{attempt}"


def training_job_base(*, project: str, commit: str, inputs: Any) -> str:
    """``<project>-<commit>-<hash of image, data version, hyperparameters, resources>``."""
    short_commit = re.sub(r"[^a-zA-Z0-9]", "", commit)[:7] or "nocommit"
    return f"{_prefix(project)}-{short_commit}-{fingerprint(inputs)}"


def transform_job_prefix(project: str) -> str:
    """What every transform job name of ``project`` starts with."""
    return f"{_prefix(project)}-tf-v"


def transform_job_base(*, project: str, version: int, inputs: Any) -> str:
    return f"{transform_job_prefix(project)}{version}-{fingerprint(inputs)}"


def transform_owner(project: str) -> str:
    """Who the batch-transform models belong to: their name prefix and ``byoc:endpoint`` tag."""
    return f"{project}-transform"


def model_name(*, endpoint_name: str, version: int, image: str) -> str:
    return f"{_prefix(endpoint_name)}-v{version}-{fingerprint(image, length=6)}"


def endpoint_config_name(*, endpoint_name: str, version: int, content: Any) -> str:
    """Named by content: the same version on the same hardware reuses its config (rollback)."""
    return f"{_prefix(endpoint_name)}-v{version}-{fingerprint(content, length=6)}"


def version_of_config(config_name: str) -> int:
    """The model version an endpoint config made by this backend serves; 0 if not ours."""
    match = _CONFIG_NAME.search(config_name)
    return int(match.group(1)) if match else 0
