"""The one lifecycle interface that both backends implement.

Tasks and the pipeline drive a :class:`Backend` and never ask which one it is. The verbs mirror
SageMaker's: build an image, train, register, approve, deploy an endpoint, update it blue/green,
roll back, batch transform, invoke, describe, tear down.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ml.backends.records import Endpoint, ImageRecord, Invocation, ModelVersion, TrainingJob, TransformJob
from ml.config import TRAFFIC_TYPES, ProjectConfig
from ml.errors import NotFoundError, UserInputError

LogSink = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class BlueGreenPolicy:
    """SageMaker deployment guardrails' traffic shifting, as one value.

    ``ALL_AT_ONCE`` moves everything, ``CANARY`` moves ``step_percent`` then the rest after
    ``wait_seconds``, ``LINEAR`` moves ``step_percent`` every ``wait_seconds``. After the last
    shift, alarms are watched for ``baking_seconds`` before the blue fleet is retired.
    """

    traffic: str
    step_percent: int
    wait_seconds: float
    baking_seconds: float
    error_rate_percent: float
    p99_latency_ms: float

    def __post_init__(self) -> None:
        if self.traffic not in TRAFFIC_TYPES:
            raise UserInputError(f"traffic must be ALL_AT_ONCE, CANARY or LINEAR, not {self.traffic!r}")
        if not 1 <= self.step_percent <= 100:
            raise UserInputError(f"step_percent must be 1-100, not {self.step_percent}")

    def steps(self) -> list[int]:
        """The green traffic percentages, in order, ending at 100."""
        if self.traffic == "ALL_AT_ONCE":
            return [100]
        if self.traffic == "CANARY":
            return [self.step_percent, 100] if self.step_percent < 100 else [100]
        shares = list(range(self.step_percent, 100, self.step_percent))
        return [*shares, 100]

    @classmethod
    def for_aws(cls, config: ProjectConfig) -> BlueGreenPolicy:
        return cls(
            traffic=config.bluegreen_traffic,
            step_percent=config.bluegreen_step_percent,
            wait_seconds=config.bluegreen_wait_seconds,
            baking_seconds=config.bluegreen_baking_seconds,
            error_rate_percent=config.alarm_error_rate_percent,
            p99_latency_ms=config.alarm_p99_latency_ms,
        )

    @classmethod
    def for_local(cls, config: ProjectConfig) -> BlueGreenPolicy:
        """Same policy, with the local (seconds, not minutes) wait and baking times."""
        return cls(
            traffic=config.bluegreen_traffic,
            step_percent=config.bluegreen_step_percent,
            wait_seconds=config.local_bluegreen_wait_seconds,
            baking_seconds=config.local_bluegreen_baking_seconds,
            error_rate_percent=config.alarm_error_rate_percent,
            p99_latency_ms=config.alarm_p99_latency_ms,
        )


def select_version(versions: Sequence[ModelVersion], explicit: int | None = None) -> ModelVersion:
    """The version to deploy: ``explicit`` if given (it must exist and not be rejected),
    otherwise the newest Approved one, by version number, whatever order ``versions`` is in."""
    if explicit is not None:
        for candidate in versions:
            if candidate.version == explicit:
                if candidate.approval_status == "Rejected":
                    raise UserInputError(f"model version {explicit} is Rejected; approve it first with `invoke approve {explicit}`")
                return candidate
        known = ", ".join(str(v.version) for v in versions) or "none"
        raise NotFoundError(f"model version {explicit} does not exist (registered versions: {known})")
    approved = [v for v in versions if v.approval_status == "Approved"]
    if not approved:
        pending = [v.version for v in versions if v.approval_status == "PendingManualApproval"]
        hint = f"approve one with `invoke approve {max(pending)}`" if pending else "train and register one with `invoke train`"
        raise NotFoundError(f"no approved model version to deploy; {hint}")
    return max(approved, key=lambda v: v.version)


class Backend(Protocol):
    """The lifecycle verbs, with one meaning on both backends.

    Every method blocks until its resource is settled (or raises a :mod:`ml.errors` error that
    says what to do). ``tests/ml/backends/test_contract.py`` runs the same tests against both
    backends; what is written here is what those tests enforce.
    """

    name: str

    def build_image(self, *, tag: str | None = None) -> ImageRecord:
        """Build (and on AWS push) the container image; the record carries its digest."""
        ...

    def train(
        self,
        *,
        hyperparameters: Mapping[str, str] | None = None,
        data: str | None = None,
        job_name: str | None = None,
        on_log: LogSink | None = None,
    ) -> TrainingJob:
        """Run one training job to its end and return it Completed, or raise JobFailedError.

        ``hyperparameters`` are overrides: the job runs with the configuration's hyperparameters
        merged with them (an override wins; a name the configuration lacks is added). The job's
        lineage records ``git_commit`` as the full 40-hex commit and ``git_dirty`` as a separate
        bool (see :mod:`ml.gitrev`), never a short or suffixed hash.
        """
        ...

    def register(self, *, job_name: str, approval_status: str | None = None) -> ModelVersion:
        """Register a Completed job's model as a new version (default status: the configured one).

        Idempotent per job: registering a job that already has a version returns that version
        unchanged, so a retried pipeline step never creates a duplicate.
        """
        ...

    def approve(self, *, version: int, status: str = "Approved", note: str = "") -> ModelVersion:
        """Set a version to ``Approved`` or ``Rejected``; ``PendingManualApproval`` is not a target
        (a decision cannot be taken back to undecided) and raises UserInputError. The status the
        version already has is a no-op: the version comes back unchanged, with no new audit entry."""
        ...

    def list_versions(self) -> list[ModelVersion]:
        """Every version of the model package group, newest (highest version number) first."""
        ...

    def deploy_endpoint(self, *, endpoint_name: str, version: int | None = None) -> Endpoint:
        """Serve ``version`` (default: the newest Approved) on ``endpoint_name``.

        Creates the endpoint when it does not exist. On an existing endpoint it is exactly
        :meth:`update_endpoint` (blue/green, or the no-op below), never an error and never a
        delete-and-recreate, so the deploy pipeline can run on every push.
        """
        ...

    def update_endpoint(self, *, endpoint_name: str, version: int | None = None, policy: BlueGreenPolicy | None = None) -> Endpoint:
        """Move an existing endpoint to ``version`` blue/green under ``policy`` (default: configured).

        Updating to the version the endpoint already serves is a no-op: it changes nothing, says
        so through the backend's event sink ("already serves model version N; nothing to
        update") and returns the endpoint. An alarm during the update rolls it back and raises
        DeployRolledBackError. A missing endpoint raises NotFoundError.
        """
        ...

    def rollback(self, *, endpoint_name: str, to_version: int | None = None) -> Endpoint:
        """Put the previously served version (or ``to_version``) back, all at once."""
        ...

    def transform(self, *, data: str | None = None, output: str | None = None, version: int | None = None) -> TransformJob:
        """Batch transform; the output appears all at once when the job completes, or not at all."""
        ...

    def invoke(self, *, endpoint_name: str, body: bytes, content_type: str = "text/csv", accept: str = "text/csv") -> Invocation:
        """One request to the endpoint, answered by whichever variant the router picks."""
        ...

    def describe_endpoint(self, *, endpoint_name: str) -> Endpoint:
        """The endpoint as it is now; NotFoundError when it does not exist."""
        ...

    def teardown(self, *, endpoint_name: str | None = None) -> list[str]:
        """Delete ``endpoint_name`` (default: the configured endpoint) and what was made for it.

        Other endpoints are left alone on both backends. Tearing down an endpoint that does not
        exist is not an error; the lines say what was (or was not) removed. Locally,
        ``LocalBackend.teardown_all`` (``invoke teardown --all``) removes every endpoint.
        """
        ...
