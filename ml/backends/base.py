"""The one lifecycle interface that both backends implement.

Tasks and the pipeline drive a :class:`Backend` and never ask which one it is. The verbs mirror
SageMaker's: build an image, train, register, approve, deploy an endpoint, update it blue/green,
roll back, batch transform, invoke, describe, tear down.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ml.backends.records import Endpoint, ImageRecord, Invocation, ModelVersion, ReportRecord, TrainingJob, TransformJob
from ml.config import ProjectConfig
from ml.errors import NotFoundError, UserInputError
from ml.names import TRAFFIC_TYPES

LogSink = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class BlueGreenPolicy:
    """SageMaker deployment guardrails' traffic shifting, as one value.

    ``ALL_AT_ONCE`` moves everything, ``CANARY`` moves ``step_percent`` then the rest after
    ``wait_seconds``, ``LINEAR`` moves ``step_percent`` every ``wait_seconds``. After the last
    shift, alarms are watched for ``baking_seconds`` before the blue fleet is retired. With
    ``auto_rollback`` off no alarm is watched (:data:`ROLLBACK_POLICY`); a green fleet that fails
    its health check still stops the update before any traffic moves.
    """

    traffic: str
    step_percent: int
    wait_seconds: float
    baking_seconds: float
    error_rate_percent: float
    p99_latency_ms: float
    auto_rollback: bool = True

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


# The one rollback policy (see Backend.rollback): everything at once, no wait, no baking, no alarms.
ROLLBACK_POLICY = BlueGreenPolicy(
    traffic="ALL_AT_ONCE", step_percent=100, wait_seconds=0, baking_seconds=0, error_rate_percent=0, p99_latency_ms=0, auto_rollback=False
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


def rollback_target(
    versions: Sequence[ModelVersion], *, endpoint_name: str, serving: int, history: Sequence[int], to_version: int | None
) -> ModelVersion:
    """The version :meth:`Backend.rollback` puts back: ``to_version``, else the newest one in
    ``history`` (the versions the endpoint served before, oldest first) other than ``serving``, else
    the newest Approved version older than ``serving``. It must exist and not be Rejected."""
    if to_version is not None:
        return select_version(versions, to_version)
    earlier = [v for v in history if v != serving]
    if earlier:
        return select_version(versions, earlier[-1])
    older = [v for v in versions if v.version < serving and v.approval_status == "Approved"]
    if not older:
        raise NotFoundError(
            f"endpoint {endpoint_name!r} has served only version {serving} and no older version is approved: "
            "there is no earlier version to roll back to; pass --to VERSION"
        )
    return max(older, key=lambda v: v.version)


def report_target(versions: Sequence[ModelVersion], version: int | None) -> int:
    """The version :meth:`Backend.report` writes about: ``version``, else the newest registered."""
    if version is not None:
        return version
    if not versions:
        raise NotFoundError("no model versions registered yet; run `invoke train` first")
    return max(v.version for v in versions)


def nothing_to_roll_back(endpoint_name: str, version: int) -> str:
    """What both backends say when asked to roll back to the version already serving."""
    return f"endpoint {endpoint_name!r} already serves model version {version}; nothing to roll back"


class LocalVerbs(Protocol):
    """Verbs only one machine has: the local backend exposes them as :attr:`Backend.local_verbs`.

    A task asks for this capability, never for the backend's class; on SageMaker it is ``None``
    (AWS restores its own endpoints, ``teardown`` removes the configured one, and the deploy
    pipeline's approval email links the candidate's report instead of printing it).
    """

    def review(self, *, version: int) -> ReportRecord:
        """What an approver reads before deciding: ``version``'s report written beside the serving version's metrics."""
        ...

    def restore(self, *, new_url: bool = False) -> list[str]:
        """Every recorded endpoint whose processes are gone (a reboot), back with its version, weights and URL."""
        ...

    def teardown_all(self) -> list[str]:
        """Every endpoint this project started on this machine, whatever its name."""
        ...


class Backend(Protocol):
    """The lifecycle verbs, with one meaning on both backends.

    Every method blocks until its resource is settled (or raises a :mod:`ml.errors` error that
    says what to do). ``tests/ml/backends/test_contract.py`` runs the same tests against both
    backends; what is written here is what those tests enforce.
    """

    name: str

    @property
    def local_verbs(self) -> LocalVerbs | None:
        """The verbs only the local backend has (:class:`LocalVerbs`), or ``None``."""
        ...

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

    def report(self, *, version: int | None = None) -> ReportRecord:
        """Write ``version``'s training report (default: the newest, :func:`report_target`) beside the
        version now serving. Locally under the state directory; on AWS in the data lake, its URI on
        the model package. A report that cannot be written leaves ``location`` empty and says why."""
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
        """Put the previously served version (or ``to_version``) back: one policy on both backends.

        - Which version: :func:`rollback_target`: ``to_version``, else the one the endpoint served
          before the current one, else (no history: a SageMaker endpoint deployed from another
          checkout) the newest Approved version older than the serving one; none is a NotFoundError
          that says to pass ``--to``.
        - How: :data:`ROLLBACK_POLICY`, a blue/green move of all traffic at once with no wait, no
          baking and no alarm auto-rollback: the alarms are likely firing because of the version
          being replaced, and watching them would roll the rollback back onto it. The alarms
          themselves are left as they are (the next update watches them again). The version put
          back must still pass its health check before traffic moves; if it does not, the serving
          version keeps serving and DeployRolledBackError is raised.
        - Rolling back to the version already serving is a no-op, as an update to it is: nothing
          changes, the event sink hears :func:`nothing_to_roll_back`'s line, and the endpoint is
          returned as it is.
        - A missing endpoint raises NotFoundError.
        """
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
        :meth:`LocalVerbs.teardown_all` (``invoke teardown --all``) removes every endpoint.
        """
        ...
