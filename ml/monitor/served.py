"""Which model version a capture's variant is, and where that version's baseline is.

A capture names only the endpoint and the variant. Both backends keep one variant name across
blue/green updates (SageMaker's guardrails require it), so the version is the one the backend's
``describe_endpoint`` says the variant serves at the time of the run; the baseline is read from
that version's artifact (``list_versions``' ``artifact_uri``: a local path or s3://). A window
that spans an update compares the older version's records with the newer baseline: monitor
with ``--since`` set after the update to keep them apart (docs/monitoring.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ml.backends.base import Backend
from ml.errors import NotFoundError
from ml.monitor.baseline import Baseline, MissingBaselineError, load_artifact, load_dir

GIVEN_VERSION = 0  # the version shown when --baseline names the baseline (no registry involved)


def given_baseline(path: str) -> Callable[[str], tuple[int, Baseline]]:
    """A finder that answers every variant with one baseline: a ``baseline/`` folder or a model.tar.gz."""
    folder = Path(path)
    if not folder.exists():
        raise MissingBaselineError(f"--baseline {path} does not exist; name a model's baseline/ folder or its model.tar.gz")
    baseline = load_dir(folder) if folder.is_dir() else load_artifact(path)
    return lambda variant: (GIVEN_VERSION, baseline)


class ServedBaselines:
    """A :data:`~ml.monitor.run.BaselineFinder` over a backend, reading each version once."""

    def __init__(self, *, backend: Backend, endpoint: str, s3_client: Any = None) -> None:
        self.backend, self.endpoint, self.s3_client = backend, endpoint, s3_client
        self._variants: dict[str, int] | None = None
        self._baselines: dict[int, Baseline] = {}

    def _served(self) -> dict[str, int]:
        if self._variants is None:
            described = self.backend.describe_endpoint(endpoint_name=self.endpoint)
            # The local backend names a variant "<variant>/<process id>" (each update starts a
            # new process); its capture path, like SageMaker's, has only "<variant>". During an
            # update the version with the most traffic stands for the name.
            served: dict[str, tuple[float, int]] = {}
            for variant in described.variants:
                name = variant.name.split("/")[0]
                if name not in served or variant.weight > served[name][0]:
                    served[name] = (variant.weight, variant.version)
            self._variants = {name: version for name, (_, version) in served.items()}
        return self._variants

    def __call__(self, variant: str) -> tuple[int, Baseline]:
        served = self._served()
        if variant not in served:
            raise NotFoundError(
                f"endpoint {self.endpoint} has no variant {variant!r} now (it serves {', '.join(sorted(served)) or 'none'}); "
                "its version is unknown, so its baseline is too - monitor a window after the variant was replaced"
            )
        version = served[variant]
        if version not in self._baselines:
            chosen = [v for v in self.backend.list_versions() if v.version == version]
            if not chosen:
                raise MissingBaselineError(
                    f"model version {version} served by {self.endpoint}/{variant} is not in the registry; its baseline cannot be found"
                )
            self._baselines[version] = load_artifact(chosen[0].artifact_uri, s3_client=self.s3_client)
        return version, self._baselines[version]
