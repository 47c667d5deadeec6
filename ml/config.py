"""The project's configuration: the ``context`` block of ``cdktf.json``, loaded once, validated.

``cdktf.json`` is the one source of truth for the user's parameters. ``main.py`` (through the
cdktf CLI, which passes the context in ``CDKTF_CONTEXT_JSON``) and ``tasks.py`` both read it
through :func:`load_config`, so a typo fails the same way everywhere: with a :class:`ConfigError`
that names the key and the expected form.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ml.aws_limits import MAX_SPLIT_OBJECTS, SPLIT_PARTS_PER_INSTANCE, scaling_problem, split_problem, traffic_problem, transform_problem
from ml.errors import ConfigError
from ml.names import (
    BLUEGREEN_EXECUTION_RANGE,
    BLUEGREEN_PROVISION_SECONDS,
    BUILD_PROJECT_MINUTES,
    CODEBUILD_TIMEOUT_MINUTES,
    ENDPOINT_SETTLE_SECONDS,
    INITIAL_APPROVAL_STATUSES,
    PROJECT_SETUP_MINUTES,
    TRAFFIC_TYPES,
    TRAINING_WAIT_MARGIN_SECONDS,
    TRANSFORM_WAIT_SECONDS,
)

CONTEXT_ENV = "CDKTF_CONTEXT_JSON"
DEFAULT_CONFIG_FILE = "cdktf.json"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
_ECR_REPO = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_CODECOMMIT_REPO = re.compile(r"^[\w.-]{1,100}$")
_BRANCH = re.compile(r"^(?!/)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,200}(?<!/)$")
_CODEBUILD_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,254}$")
_PIPELINE = re.compile(r"^[A-Za-z0-9.@_-]{1,100}$")
# SageMaker lowercases the group name inside model-package ARNs, so a policy naming an upper-case
# group would never match them: only lowercase names are accepted.
_PACKAGE_GROUP = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,62}$")
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
_BUCKET = re.compile(r"^(?!\d+\.\d+\.\d+\.\d+$)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CONNECTION_ARN = re.compile(r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[\w-]+$")
# Data capture's prefix in the data lake: path segments of S3-safe characters, no empty segment.
_S3_PREFIX = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,9}$")
# EventBridge schedule expressions: rate(N unit[s]) or a six-field cron(...).
_SCHEDULE = re.compile(r"^(rate\((1 (minute|hour|day)|([2-9]|[1-9]\d{1,4}) (minutes|hours|days))\)|cron\(\S+( \S+){5}\))$")
_JSONPATH = re.compile(r"^\$(\[[0-9:, -]*\]|\.[A-Za-z_][\w.]*)?$")
_GITHUB_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
# AWS tag keys and values: [\p{L}\p{Z}\p{N}_.:/=+\-@], 1-128 and 0-256 characters.
_TAG_KEY = re.compile(r"^[\w .:/=+@-]{1,128}$")
_TAG_VALUE = re.compile(r"^[\w .:/=+@-]{0,256}$")
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


# Each factory returns its check as a partial of a module-level function: the check runs when a
# config is validated (so mutation testing can swap it), not when the class body is built.
def _check_pattern(key: str, value: Any, *, regex: re.Pattern[str], form: str, allow_empty: bool) -> Any:
    if not isinstance(value, str):
        raise ConfigError(key, f"expected a string ({form}), got {type(value).__name__} {value!r}")
    if allow_empty and value == "":
        return value
    if not regex.match(value):
        raise ConfigError(key, f"{value!r} is not valid; expected {form}")
    return value


def _pattern(regex: re.Pattern[str], form: str, *, allow_empty: bool = False) -> Callable[[str, Any], Any]:
    return functools.partial(_check_pattern, regex=regex, form=form, allow_empty=allow_empty)


def _check_choice(key: str, value: Any, *, options: tuple[str, ...]) -> Any:
    if value not in options:
        raise ConfigError(key, f"{value!r} is not one of {', '.join(options)}")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[str, Any], Any]:
    return functools.partial(_check_choice, options=options)


def _boolean(key: str, value: Any) -> Any:
    if not isinstance(value, bool):
        raise ConfigError(key, f"expected true or false, got {value!r}")
    return value


def _check_number(key: str, value: Any, *, low: float, high: float, integer: bool) -> Any:
    kind = "a whole number" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not low <= value <= high:
        raise ConfigError(key, f"expected {kind} from {low:g} to {high:g}, got {value!r}")
    return value


def _number(low: float, high: float, *, integer: bool = True) -> Callable[[str, Any], Any]:
    return functools.partial(_check_number, low=low, high=high, integer=integer)


def _check_string_map(key: str, value: Any, *, key_form: re.Pattern[str], value_form: re.Pattern[str] | None) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(key, f"expected an object of string keys to string values, got {value!r}")
    for k, v in value.items():
        if not key_form.match(str(k)) or not isinstance(v, str):
            raise ConfigError(key, f"entry {k!r}: {v!r} must map a name to a string (SageMaker passes strings)")
        if value_form is not None and not value_form.match(v):
            raise ConfigError(key, f"entry {k!r}: value {v!r} may hold only up to 256 letters, digits, spaces and _ . : / = + - @")
    return dict(value)


def _string_map(key_form: re.Pattern[str], value_form: re.Pattern[str] | None = None) -> Callable[[str, Any], Any]:
    return functools.partial(_check_string_map, key_form=key_form, value_form=value_form)


def _optional(check: Callable[[str, Any], Any], absent: str) -> Callable[[str, Any], Any]:
    """``null`` (the key's computed default, described by ``absent``) or what ``check`` accepts."""

    def accept(key: str, value: Any) -> Any:
        if value is None:
            return value
        try:
            return check(key, value)
        except ConfigError as err:
            raise ConfigError(key, f"{err.problem}, or null for {absent}") from err

    return accept


def _retention(key: str, value: Any) -> Any:
    if value not in LOG_RETENTION_DAYS:
        raise ConfigError(key, f"{value!r} is not a CloudWatch retention period; use one of {LOG_RETENTION_DAYS}")
    return value


def _relative_dir(key: str, value: Any) -> Any:
    if not isinstance(value, str) or not value or Path(value).is_absolute() or ".." in Path(value).parts:
        raise ConfigError(key, f"expected a directory path relative to the project, got {value!r}")
    return value


_EMAIL_OR_EMPTY = _pattern(_EMAIL, "an email address like name@example.com, or empty", allow_empty=True)
_NAME = {
    "repo": _pattern(_CODECOMMIT_REPO, "1-100 letters, digits, '.', '_' or '-'"),
    "branch": _pattern(_BRANCH, "a git branch name such as main"),
    "project": _pattern(_CODEBUILD_PROJECT, "2-255 letters, digits, '-' or '_', starting with a letter or digit"),
    "pipeline": _pattern(_PIPELINE, "1-100 letters, digits, '.', '@', '-' or '_'"),
}


def _spec(check: Callable[[str, Any], Any]) -> Any:
    return field(metadata={"check": check})


@dataclass(frozen=True, kw_only=True)
class ProjectConfig:
    """Every parameter of the project. Field names are the keys of ``cdktf.json``'s context."""

    project_name: str = _spec(_pattern(_PROJECT, "3-32 lowercase letters, digits or '-', starting with a letter"))
    region: str = _spec(_pattern(_REGION, "an AWS region such as us-east-1"))
    tags: dict[str, str] = _spec(_string_map(_TAG_KEY, _TAG_VALUE))

    ecr_repo: str = _spec(_pattern(_ECR_REPO, "an ECR repository name: lowercase letters, digits, '.', '_', '-', '/'"))
    source_provider: str = _spec(_choice(("codecommit", "codeconnections")))
    codeconnections_arn: str = _spec(_pattern(_CONNECTION_ARN, "an AWS CodeConnections connection ARN, or empty", allow_empty=True))
    github_owner: str = _spec(_pattern(_GITHUB_OWNER, "a GitHub user or organisation name, or empty", allow_empty=True))

    build_repo: str = _spec(_NAME["repo"])
    build_branch: str = _spec(_NAME["branch"])
    build_project: str = _spec(_NAME["project"])
    build_pipeline: str = _spec(_NAME["pipeline"])
    build_notifications_email: str = _spec(_EMAIL_OR_EMPTY)

    train_repo: str = _spec(_NAME["repo"])
    train_branch: str = _spec(_NAME["branch"])
    train_project: str = _spec(_NAME["project"])
    train_pipeline: str = _spec(_NAME["pipeline"])
    train_notifications_email: str = _spec(_EMAIL_OR_EMPTY)

    deploy_repo: str = _spec(_NAME["repo"])
    deploy_branch: str = _spec(_NAME["branch"])
    deploy_project: str = _spec(_NAME["project"])
    deploy_pipeline: str = _spec(_NAME["pipeline"])
    deploy_notifications_email: str = _spec(_EMAIL_OR_EMPTY)
    deploy_approval_required: bool = _spec(_boolean)
    deploy_approval_email: str = _spec(_EMAIL_OR_EMPTY)

    model_package_group: str = _spec(
        _pattern(
            _PACKAGE_GROUP,
            "1-63 lowercase letters, digits or '-', starting with a letter or digit "
            "(SageMaker lowercases the name in model-package ARNs, so IAM policies could not match upper case)",
        )
    )
    model_approval_status: str = _spec(_choice(INITIAL_APPROVAL_STATUSES))
    hyperparameters: dict[str, str] = _spec(_string_map(re.compile(r"^[a-z_][a-z0-9_]*$")))

    training_instance_type: str = _spec(_pattern(_INSTANCE_TYPE, "a SageMaker instance type such as ml.m5.large"))
    training_use_spot: bool = _spec(_boolean)
    training_max_runtime_seconds: int = _spec(_number(60, 432000))
    training_max_wait_seconds: int = _spec(_number(60, 432000))
    # SageMaker's ML storage volume (gp2 EBS, at most 16 TiB); File mode copies the data onto it.
    training_volume_size_gb: int = _spec(_number(1, 16384))
    hosting_instance_type: str = _spec(_pattern(_INSTANCE_TYPE, "a SageMaker instance type such as ml.t2.medium"))
    hosting_instance_count: int = _spec(_number(1, 100))
    transform_instance_type: str = _spec(_pattern(_INSTANCE_TYPE, "a SageMaker instance type such as ml.m5.large"))
    transform_instance_count: int = _spec(_number(1, 100))
    # Parts a single input object is split into so every instance gets work; null: 4 per instance.
    transform_split_objects: int | None = _spec(_optional(_number(0, MAX_SPLIT_OBJECTS), "4 × transform_instance_count"))
    transform_max_payload_mb: int = _spec(_number(1, 100))
    transform_max_concurrent: int = _spec(_number(1, 64))
    transform_input_filter: str = _spec(_pattern(_JSONPATH, "a JSONPath such as $ or $[1:]"))
    transform_join_source: str = _spec(_choice(("None", "Input")))
    transform_output_filter: str = _spec(_pattern(_JSONPATH, "a JSONPath such as $ or $[0,-1]"))

    autoscaling_enabled: bool = _spec(_boolean)
    autoscaling_min_instances: int = _spec(_number(1, 100))
    autoscaling_max_instances: int = _spec(_number(1, 100))
    autoscaling_target_invocations: int = _spec(_number(1, 100000))
    autoscaling_scale_in_cooldown_seconds: int = _spec(_number(0, 3600))
    autoscaling_scale_out_cooldown_seconds: int = _spec(_number(0, 3600))

    bluegreen_traffic: str = _spec(_choice(TRAFFIC_TYPES))
    bluegreen_step_percent: int = _spec(_number(1, 100))
    bluegreen_wait_seconds: int = _spec(_number(0, 3600))
    bluegreen_baking_seconds: int = _spec(_number(0, 3600))
    capture_enabled: bool = _spec(_boolean)
    capture_sampling_percent: int = _spec(_number(1, 100))
    capture_prefix: str = _spec(_pattern(_S3_PREFIX, "an S3 key prefix without leading or trailing '/', such as datacapture"))
    # Captured requests and responses expire from the data lake after this many days (S3 lifecycle).
    capture_expiry_days: int = _spec(_number(1, 3650))
    monitor_window_hours: int = _spec(_number(1, 720))
    monitor_schedule: str = _spec(_pattern(_SCHEDULE, "an EventBridge schedule such as rate(1 day) or cron(0 6 * * ? *)"))
    monitor_drift_psi: float = _spec(_number(0.01, 10.0, integer=False))
    monitor_missing_percent: float = _spec(_number(0.0, 100.0, integer=False))
    monitor_range_percent: float = _spec(_number(0.0, 100.0, integer=False))
    monitor_class_psi: float = _spec(_number(0.01, 10.0, integer=False))
    # Fewer compared rows than this (per version) give no verdict: INSUFFICIENT DATA, not a BREACH on noise.
    monitor_min_rows: int = _spec(_number(1, 10_000_000))
    alarm_error_rate_percent: float = _spec(_number(0.0, 100.0, integer=False))
    alarm_p99_latency_ms: int = _spec(_number(1, 60000))

    log_retention_days: int = _spec(_retention)
    state_backend: str = _spec(_choice(("local", "s3")))
    state_bucket: str = _spec(_pattern(_BUCKET, "an S3 bucket name (3-63 lowercase letters, digits, '.', '-'), or empty", allow_empty=True))
    state_key_prefix: str = _spec(_pattern(re.compile(r"^[\w./-]{1,200}$"), "an S3 key prefix such as sagemaker-byoc"))

    local_state_dir: str = _spec(_relative_dir)
    local_bluegreen_wait_seconds: float = _spec(_number(0, 600, integer=False))
    local_bluegreen_baking_seconds: float = _spec(_number(0, 3600, integer=False))
    # Local autoscaling measures invocations over this window (CloudWatch: one-minute periods) and
    # waits this long between scaling activities (AWS: the two cooldowns above).
    local_autoscaling_window_seconds: float = _spec(_number(1, 600, integer=False))
    local_autoscaling_cooldown_seconds: float = _spec(_number(0, 3600, integer=False))

    def __post_init__(self) -> None:
        for f in fields(self):
            f.metadata["check"](f.name, getattr(self, f.name))
        self._check_relations()

    def _check_relations(self) -> None:
        if self.training_use_spot and self.training_max_wait_seconds < self.training_max_runtime_seconds:
            raise ConfigError(
                "training_max_wait_seconds",
                f"must be at least training_max_runtime_seconds ({self.training_max_runtime_seconds}) when spot training is on",
            )
        if self.source_provider == "codeconnections" and not (self.codeconnections_arn and self.github_owner):
            raise ConfigError("codeconnections_arn", "source_provider 'codeconnections' needs codeconnections_arn and github_owner")
        for problem in (
            traffic_problem(self.bluegreen_traffic, self.bluegreen_step_percent, self.hosting_instance_count),
            scaling_problem(self.autoscaling_min_instances, self.autoscaling_max_instances, self.hosting_instance_count)
            if self.autoscaling_enabled
            else None,
            # Scaled in to its minimum, the fleet must still allow the blue/green step.
            traffic_problem(self.bluegreen_traffic, self.bluegreen_step_percent, self.autoscaling_min_instances)
            if self.autoscaling_enabled
            else None,
            transform_problem(self.transform_max_concurrent, self.transform_max_payload_mb),
            split_problem(self.split_objects, self.transform_instance_count),
        ):
            if problem is not None:
                raise ConfigError(*problem)
        if self.monitor_window_hours > self.capture_expiry_days * 24:
            raise ConfigError(
                "monitor_window_hours",
                f"is {self.monitor_window_hours} h, longer than captured data lives (capture_expiry_days "
                f"{self.capture_expiry_days} = {self.capture_expiry_days * 24} h); shorten it or keep captures longer",
            )
        if self.state_backend == "s3" and not self.state_bucket:
            raise ConfigError("state_bucket", "is required when state_backend is 's3'; name the bucket that holds Terraform state")
        self._check_project_timeouts()

    def _check_project_timeouts(self) -> None:
        limit = CODEBUILD_TIMEOUT_MINUTES[1]
        key = "training_max_wait_seconds" if self.training_use_spot else "training_max_runtime_seconds"
        for project, culprit in (("train", key), ("deploy", "bluegreen_wait_seconds")):
            minutes = self.project_timeout_minutes(project)
            if minutes > limit:
                raise ConfigError(
                    culprit,
                    f"makes the {project} CodeBuild project wait {minutes} minutes, over CodeBuild's limit of {limit} "
                    f"({limit // 60} h); lower it (with bluegreen_baking_seconds and the step count for deploy)",
                )

    def require_deployable(self) -> None:
        """What only the AWS stacks need, checked before synthesis (``main.build_app``) and by
        ``invoke preflight``, not at every load: local mode needs no approver.

        No default approver: an example address would subscribe nobody, and every deploy would
        wait for an approval no one is asked for."""
        if self.deploy_approval_required and not self.deploy_approval_email:
            raise ConfigError(
                "deploy_approval_email",
                "is required while deploy_approval_required is true: set the approver's address in cdktf.json "
                "(they confirm the SNS subscription by email), or set deploy_approval_required to false",
            )

    @property
    def split_objects(self) -> int:
        """How many parts a single transform input is split into; 0 or 1: used as it is."""
        if self.transform_split_objects is None:
            return SPLIT_PARTS_PER_INSTANCE * self.transform_instance_count
        return self.transform_split_objects

    @property
    def training_wait_seconds(self) -> int:
        """How long the backend waits for a training job: its stopping condition plus a margin."""
        limit = self.training_max_runtime_seconds
        if self.training_use_spot:
            limit = max(limit, self.training_max_wait_seconds)
        return limit + TRAINING_WAIT_MARGIN_SECONDS

    @property
    def bluegreen_shift_count(self) -> int:
        """How many traffic shifts an update makes (each waits bluegreen_wait_seconds)."""
        if self.bluegreen_traffic == "ALL_AT_ONCE" or self.bluegreen_step_percent >= 100:
            return 1
        if self.bluegreen_traffic == "CANARY":
            return 2
        return len(range(self.bluegreen_step_percent, 100, self.bluegreen_step_percent)) + 1

    @property
    def bluegreen_execution_seconds(self) -> int:
        """MaximumExecutionTimeoutInSeconds: provisioning, every shift's wait and the baking."""
        needed = BLUEGREEN_PROVISION_SECONDS + self.bluegreen_wait_seconds * self.bluegreen_shift_count + self.bluegreen_baking_seconds
        low, high = BLUEGREEN_EXECUTION_RANGE
        return max(low, min(high, needed))

    @property
    def update_wait_seconds(self) -> int:
        """The backend's wait for an update: SageMaker gives up at the execution timeout, then rolls back."""
        return self.bluegreen_execution_seconds + BLUEGREEN_PROVISION_SECONDS

    @property
    def deploy_wait_seconds(self) -> int:
        """The longest wait of one deploy run: an update after the endpoint settles, or a transform."""
        return max(ENDPOINT_SETTLE_SECONDS + self.update_wait_seconds, TRANSFORM_WAIT_SECONDS)

    def project_timeout_minutes(self, project: str) -> int:
        """The CodeBuild timeout of the ``build``, ``train`` or ``deploy`` project."""
        waits = {"build": 0, "train": self.training_wait_seconds, "deploy": self.deploy_wait_seconds}
        if project == "build":
            return BUILD_PROJECT_MINUTES
        return -(-waits[project] // 60) + PROJECT_SETUP_MINUTES

    @property
    def endpoint_name(self) -> str:
        """The real-time endpoint's name; the deploy stack's alarms watch this name."""
        return f"{self.project_name}-endpoint"

    @property
    def monitor_schedule_rule(self) -> str:
        """The EventBridge rule that starts the monitor; teardown disables it, a deploy enables it."""
        return f"{self.project_name}-monitor-schedule"

    @property
    def monitor_project(self) -> str:
        """The CodeBuild project that runs invoke monitor on a schedule (deploy stack)."""
        return f"{self.project_name}-monitor"

    def remote_state_key(self, stack: str) -> str:
        """Terraform S3-backend object key of a stack's state."""
        return f"{self.state_key_prefix}/{stack}.tfstate"

    @property
    def notification_emails(self) -> dict[str, str]:
        """The per-pipeline notification addresses that are set, keyed by pipeline."""
        emails = {
            "build": self.build_notifications_email,
            "train": self.train_notifications_email,
            "deploy": self.deploy_notifications_email,
        }
        return {stage: email for stage, email in emails.items() if email}


CONFIG_KEYS = tuple(f.name for f in fields(ProjectConfig))


def config_from_mapping(context: Mapping[str, Any]) -> ProjectConfig:
    """Validate a context mapping; unknown and missing keys are errors that name the key."""
    unknown = sorted(set(context) - set(CONFIG_KEYS))
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, CONFIG_KEYS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys are listed in README.md ({len(CONFIG_KEYS)} keys)"
        raise ConfigError(key, f"unknown key; {hint}")
    missing = [k for k in CONFIG_KEYS if k not in context]
    if missing:
        raise ConfigError(missing[0], "is missing; add it to the context block of cdktf.json (see README.md for the default)")
    return ProjectConfig(**{k: context[k] for k in CONFIG_KEYS})


def _context_from_env() -> dict[str, Any] | None:
    raw = os.environ.get(CONTEXT_ENV)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ConfigError(CONTEXT_ENV, f"is not valid JSON ({err})") from err
    # The CLI adds its own keys (for example cdktfRelativeModules); keep only ours.
    return {k: v for k, v in data.items() if k in CONFIG_KEYS} if isinstance(data, dict) else None


def load_config(path: Path | None = None, *, overrides: Mapping[str, Any] | None = None) -> ProjectConfig:
    """Load and validate the configuration.

    ``path`` defaults to ``cdktf.json`` in the working directory. Overrides (from tests, or the
    ``CDKTF_CONTEXT_JSON`` the cdktf CLI sets) are applied on top of the file's context.
    """
    config_file = path or Path(DEFAULT_CONFIG_FILE)
    try:
        document = json.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ConfigError("context", f"{config_file} not found; run from the project root or pass its path") from err
    except json.JSONDecodeError as err:
        raise ConfigError("context", f"{config_file} is not valid JSON: {err}") from err
    context = document.get("context")
    if not isinstance(context, dict):
        raise ConfigError("context", f"{config_file} has no context object")
    merged = dict(context)
    merged.update(_context_from_env() or {})
    merged.update(overrides or {})
    return config_from_mapping(merged)
