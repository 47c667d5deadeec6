"""Which model version answered each captured record, and where that version's baseline is.

Locally the router records the variant that answered with each record (``byocVariant``), and the
variant's id names its model version. On AWS a record names only the endpoint and the variant,
whose name stays the same across blue/green updates, so the version is the one the endpoint's
deployment history (:mod:`ml.monitor.history`) says was in force at the record's time. Either way
the baseline is read from that version's artifact (``list_versions``' ``artifact_uri``: a local
path or s3://), once per version.

Only the current endpoint's life counts unless asked otherwise: its ``created_at`` (SageMaker's
CreationTime) starts the records that are its own; earlier ones were answered by an earlier
endpoint of the same name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.backends.base import Backend
from ml.backends.local.fleet import version_of_variant
from ml.backends.records import Endpoint
from ml.backends.sagemaker.deployments import Deployment
from ml.errors import NotFoundError
from ml.monitor.baseline import Baseline, MissingBaselineError, load_artifact, load_dir
from ml.monitor.capture import CapturedRecord
from ml.monitor.history import ServingHistory
from ml.monitor.run import Attributed

GIVEN_VERSION = 0  # the version shown when --baseline names the baseline (no registry involved)
NO_VARIANT = (
    "the record does not name the variant that answered it (the router answered on its own, "
    "or the record was captured before records named their variant)"
)


class GivenBaseline:
    """Every record of the window against one baseline (``--baseline``): no endpoint, no registry."""

    def __init__(self, baseline: Baseline) -> None:
        self._baseline = baseline

    def lifetime_start(self) -> datetime | None:
        return None

    def version_of(self, variant: str, record: CapturedRecord) -> Attributed:
        return Attributed(version=GIVEN_VERSION)

    def baseline(self, version: int) -> Baseline:
        return self._baseline


def given_baseline(path: str) -> GivenBaseline:
    """A ``baseline/`` folder or a model.tar.gz, for every record."""
    folder = Path(path)
    if not folder.exists():
        raise MissingBaselineError(f"--baseline {path} does not exist; name a model's baseline/ folder or its model.tar.gz")
    return GivenBaseline(load_dir(folder) if folder.is_dir() else load_artifact(path))


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class ServedBaselines:
    """An :class:`~ml.monitor.run.Attribution` over a backend, reading each version's baseline once.

    ``deployments`` reads the endpoint's deployment history (AWS); without it a record that does
    not name its variant cannot be attributed. ``earlier_endpoints`` counts the records of earlier
    endpoints of the same name too.
    """

    def __init__(
        self,
        *,
        backend: Backend,
        endpoint: str,
        s3_client: Any = None,
        earlier_endpoints: bool = False,
        deployments: Callable[[], Sequence[Deployment]] | None = None,
    ) -> None:
        self.backend, self.endpoint, self.s3_client = backend, endpoint, s3_client
        self.earlier_endpoints, self._deployments = earlier_endpoints, deployments
        self._described: Endpoint | None = None
        self._history: ServingHistory | None = None
        self._baselines: dict[int, Baseline] = {}

    def _endpoint(self) -> Endpoint:
        if self._described is None:
            try:
                self._described = self.backend.describe_endpoint(endpoint_name=self.endpoint)
            except NotFoundError as err:
                raise NotFoundError(
                    f"endpoint {self.endpoint} does not exist now, so the records of its life cannot be told from an earlier "
                    f"one's ({err}); add --earlier-endpoints to count every record of the window, or give --baseline"
                ) from err
        return self._described

    def lifetime_start(self) -> datetime | None:
        if self.earlier_endpoints:
            return None
        created = self._endpoint().created_at
        # Capture times are whole seconds: the endpoint's first second is its own.
        return _moment(created).replace(microsecond=0) if created else None

    def version_of(self, variant: str, record: CapturedRecord) -> Attributed:
        if record.variant:
            version = version_of_variant(record.variant)
            if version is None:
                return Attributed(version=None, reason=f"answered by {record.variant!r}, which names no model version")
            return Attributed(version=version)
        if self._deployments is None:
            return Attributed(version=None, reason=NO_VARIANT)
        if self._history is None:
            self._history = ServingHistory(deployments=tuple(self._deployments()), current=self._current_version())
        return self._history.version_at(record.time)

    def _current_version(self) -> int:
        try:
            return self._endpoint().version
        except NotFoundError:
            return 0  # gone (--earlier-endpoints): no config runs now to contradict the history

    def baseline(self, version: int) -> Baseline:
        if version not in self._baselines:
            chosen = [v for v in self.backend.list_versions() if v.version == version]
            if not chosen:
                raise MissingBaselineError(
                    f"model version {version} answered traffic of {self.endpoint} but is not in the registry; its baseline cannot be found"
                )
            self._baselines[version] = load_artifact(chosen[0].artifact_uri, s3_client=self.s3_client)
        return self._baselines[version]
