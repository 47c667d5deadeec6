"""What the lifecycle records, shaped the way SageMaker records it.

Both backends return these frozen records, so tasks and the pipeline print and chain them without
knowing which backend produced them. ``to_dict``/``from_dict`` give the JSON form the local
backend stores and ``invoke describe`` prints.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Literal, Self, get_args

from ml.errors import UserInputError
from ml.names import DECISIONS, INITIAL_APPROVAL_STATUSES, ApprovalStatus, Decision, InitialApprovalStatus

# Status vocabularies, as the SageMaker API spells them: the one home of each word. The approval
# words live in ml.names, because the configuration (model_approval_status) is validated with them.
TrainingStatus = Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped"]
EndpointStatus = Literal["Creating", "InService", "Updating", "RollingBack", "SystemUpdating", "Deleting", "Failed", "OutOfService"]
TransformStatus = TrainingStatus
TRAINING_STATUSES: tuple[TrainingStatus, ...] = get_args(TrainingStatus)
ENDPOINT_STATUSES: tuple[EndpointStatus, ...] = get_args(EndpointStatus)
TRANSFORM_STATUSES: tuple[TransformStatus, ...] = TRAINING_STATUSES
# Statuses a run leaves only while it is working; a record still in one after its run died was
# interrupted (the local store recovers it as Failed).
IN_PROGRESS = ("InProgress", "Creating", "Updating", "RollingBack", "Stopping", "Deleting")


def decision(status: str) -> Decision:
    """``status`` as an approval decision, or a UserInputError naming the two choices."""
    for word in DECISIONS:
        if status == word:
            return word
    raise UserInputError(f"approval status must be {' or '.join(DECISIONS)}, not {status!r}")


def initial_status(status: str) -> InitialApprovalStatus:
    """``status`` as a new version's approval status, or a UserInputError naming the two it may start as."""
    for word in INITIAL_APPROVAL_STATUSES:
        if status == word:
            return word
    raise UserInputError(f"a new version starts {' or '.join(INITIAL_APPROVAL_STATUSES)}, not {status!r}")


# SageMaker's ApprovalDescription: at most 1024 characters of pattern ``.*``, which (Java regex)
# matches no line break. Both backends take the same notes, so the rule lives here.
APPROVAL_NOTE_MAX = 1024


def approval_note(note: str) -> str:
    """``note`` if SageMaker would store it as an approval description, else a UserInputError."""
    if len(note) > APPROVAL_NOTE_MAX:
        raise UserInputError(f"the approval note is {len(note)} characters; SageMaker keeps at most {APPROVAL_NOTE_MAX}, shorten it")
    if any(ch in note for ch in "\n\r\u0085\u2028\u2029"):
        raise UserInputError("the approval note must be one line (SageMaker refuses line breaks in it); join the lines with '; '")
    return note


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    # Asked once per record read: a registry of 1,000 versions reads 1,000 records per listing.
    return frozenset(f.name for f in dataclasses.fields(cls))


class _Record:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = _field_names(cls)  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True, kw_only=True)
class Lineage(_Record):
    """Where a model came from: enough to rebuild it or to explain it."""

    git_commit: str = ""  # the full 40-hex commit on both backends (ml.gitrev), "" when unknown
    git_dirty: bool = False  # the work tree differed from git_commit when the model was built
    data_uri: str = ""
    data_version: str = ""  # local: SHA-256 of the training files; sagemaker: the S3 object version(s)
    image: str = ""  # image digest (sagemaker: repo@sha256:...), or the program hash locally
    hyperparameters: dict[str, str] = field(default_factory=dict)
    training_job: str = ""  # a model version's job (the job's own record leaves it empty)
    omitted: int = 0  # sagemaker: lineage entries the model package had no room for (the job keeps them)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """From stored JSON or decoded model package properties (whose values are all text)."""
        dirty = data.get("git_dirty", False)
        return super().from_dict(
            {
                **data,
                "git_dirty": dirty if isinstance(dirty, bool) else str(dirty).lower() == "true",
                "omitted": int(data.get("omitted") or 0),
                "hyperparameters": {str(k): str(v) for k, v in (data.get("hyperparameters") or {}).items()},
            }
        )


def _lineage(value: Lineage | dict[str, Any] | None) -> Lineage:
    return value if isinstance(value, Lineage) else Lineage.from_dict(dict(value or {}))


@dataclass(frozen=True, kw_only=True)
class ImageRecord(_Record):
    uri: str  # what to run: repository URI with digest, or a local image name
    digest: str  # sha256:...
    tag: str = ""
    builder: str = ""  # buildah, docker, podman, or "program" for the local process runtime
    created_at: str = ""


@dataclass(frozen=True, kw_only=True)
class TrainingJob(_Record):
    name: str
    status: TrainingStatus
    created_at: str = ""
    ended_at: str = ""
    hyperparameters: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    artifact_uri: str = ""
    artifact_sha256: str = ""
    failure_reason: str = ""
    lineage: Lineage = field(default_factory=Lineage)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return super().from_dict({**data, "lineage": _lineage(data.get("lineage"))})


@dataclass(frozen=True, kw_only=True)
class ApprovalEvent(_Record):
    """An audit entry: who set which approval status, when and why."""

    status: ApprovalStatus
    by: str
    at: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class ModelVersion(_Record):
    group: str
    version: int
    approval_status: ApprovalStatus
    artifact_uri: str
    artifact_sha256: str = ""
    image: str = ""
    training_job: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    lineage: Lineage = field(default_factory=Lineage)
    created_at: str = ""
    arn: str = ""  # the model package ARN on SageMaker; empty locally
    approvals: tuple[ApprovalEvent, ...] = ()  # the audit trail, oldest first (local; SageMaker keeps its own)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        events = tuple(e if isinstance(e, ApprovalEvent) else ApprovalEvent.from_dict(e) for e in data.get("approvals", ()))
        return super().from_dict({**data, "approvals": events, "lineage": _lineage(data.get("lineage"))})


@dataclass(frozen=True, kw_only=True)
class Variant(_Record):
    name: str
    version: int
    weight: float
    url: str = ""  # local: the variant's own serve URL; empty on SageMaker
    # SageMaker's CurrentInstanceCount/DesiredInstanceCount: what serves now, what autoscaling wants.
    current_instance_count: int = 0
    desired_instance_count: int = 0


@dataclass(frozen=True, kw_only=True)
class Endpoint(_Record):
    name: str
    status: EndpointStatus
    config_name: str = ""
    version: int = 0  # the model version the endpoint serves once settled
    url: str = ""  # local: the router's stable URL; sagemaker: the runtime invoke URL
    variants: tuple[Variant, ...] = ()
    previous_versions: list[int] = field(default_factory=list)  # for rollback, newest last
    created_at: str = ""
    updated_at: str = ""
    failure_reason: str = ""
    # What is running now, one line each (local: every supervised process up or down, restarts
    # with time and reason, the last health checks); the status above is judged from it.
    health: tuple[str, ...] = ()
    # The endpoint's history since it was created, one timed event a line, oldest first (local:
    # created, updated, update rolled back, rolled back, recovered, restored).
    history: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        variants = tuple(v if isinstance(v, Variant) else Variant.from_dict(v) for v in data.get("variants", ()))
        extra = {"health": tuple(data.get("health", ())), "history": tuple(data.get("history", ()))}
        return super().from_dict({**data, "variants": variants, **extra})


@dataclass(frozen=True, kw_only=True)
class TransformJob(_Record):
    name: str
    status: TransformStatus
    version: int = 0
    input_uri: str = ""
    output_uri: str = ""
    records: int = 0
    created_at: str = ""
    ended_at: str = ""
    failure_reason: str = ""
    instance_count: int = 1
    split_parts: int = 0  # parts a single input was split into before the job; 0: used as it was


@dataclass(frozen=True, kw_only=True)
class Invocation(_Record):
    status_code: int
    content_type: str
    body: bytes
    variant: str = ""


@dataclass(frozen=True, kw_only=True)
class ReportRecord(_Record):
    """A model version's training report: where it was written, and what to show of it."""

    version: int
    location: str  # the report's index.html: a local path, or an s3:// URI on AWS; "" when none could be written
    lines: tuple[str, ...] = ()  # what to print: locally the metrics beside the serving version's, then where the report is
    problem: str = ""  # why no report could be written
