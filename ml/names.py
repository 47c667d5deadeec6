"""Names the product and its stacks share: stacks and their outputs, environment variables, object
keys, tags, wait budgets, and the vocabularies the configuration is validated against.

``modules/`` (the stacks) may import only this module and :mod:`ml.config` from ``ml``, so a name
that both the infrastructure and the lifecycle code must agree on lives here, once, and both
import it. Configuration (what a user sets in ``cdktf.json``) lives in :mod:`ml.config`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args


class Stack(StrEnum):
    """The three stacks: each one's construct id in the app, and its name in Terraform state."""

    BUILD = "BuildPipelineStack"
    TRAIN = "TrainPipelineStack"
    DEPLOY = "DeployPipelineStack"


STACKS: tuple[Stack, ...] = tuple(Stack)  # in the order they are deployed (each needs the ones before)


class Output(StrEnum):
    """Every stack output, by the name Terraform state and ``BYOC_OUTPUTS_<STACK>`` carry it under.

    The stacks declare them (``PipelineStack.output``), :mod:`ml.tfstate` reads them back.
    """

    # BuildPipelineStack
    ECR_REPOSITORY_URL = "ecr_repository_url"
    ECR_REPOSITORY_NAME = "ecr_repository_name"
    ECR_REPOSITORY_ARN = "ecr_repository_arn"
    BUILD_REPO_CLONE_URL_HTTP = "build_repo_clone_url_http"
    BUILD_PIPELINE_NAME = "build_pipeline_name"
    BUILD_ARTIFACT_BUCKET = "build_artifact_bucket"
    # TrainPipelineStack
    DATALAKE_BUCKET = "datalake_bucket"
    DATALAKE_KEY_ARN = "datalake_key_arn"
    SAGEMAKER_ROLE_ARN = "sagemaker_role_arn"
    MODEL_PACKAGE_GROUP = "model_package_group"
    APPROVER_POLICY_ARN = "approver_policy_arn"
    TRAIN_REPO_CLONE_URL_HTTP = "train_repo_clone_url_http"
    TRAIN_PIPELINE_NAME = "train_pipeline_name"
    ARTIFACT_BUCKET = "artifact_bucket"  # the train pipeline's artifact bucket
    # DeployPipelineStack
    MONITOR_PROJECT_NAME = "monitor_project_name"
    APPROVAL_TOPIC_ARN = "approval_topic_arn"
    DEPLOY_REPO_CLONE_URL_HTTP = "deploy_repo_clone_url_http"
    DEPLOY_PIPELINE_NAME = "deploy_pipeline_name"
    ENDPOINT_NAME = "endpoint_name"
    ALARM_NAMES = "alarm_names"
    DEPLOY_ARTIFACT_BUCKET = "deploy_artifact_bucket"
    # Any stack whose pipeline has a notification address (see NOTIFICATION_OUTPUTS)
    BUILD_NOTIFICATIONS_TOPIC_ARN = "build_notifications_topic_arn"
    TRAIN_NOTIFICATIONS_TOPIC_ARN = "train_notifications_topic_arn"
    DEPLOY_NOTIFICATIONS_TOPIC_ARN = "deploy_notifications_topic_arn"


# The SNS topic output of each pipeline's state-change notifications, by pipeline (stage).
NOTIFICATION_OUTPUTS: dict[str, Output] = {
    "build": Output.BUILD_NOTIFICATIONS_TOPIC_ARN,
    "train": Output.TRAIN_NOTIFICATIONS_TOPIC_ARN,
    "deploy": Output.DEPLOY_NOTIFICATIONS_TOPIC_ARN,
}

# CodeBuild projects carry each stack's outputs as JSON in BYOC_OUTPUTS_<STACK> (see ml.tfstate).
OUTPUTS_ENV_PREFIX = "BYOC_OUTPUTS_"


def outputs_variable(stack: str) -> str:
    """The environment variable holding ``stack``'s outputs as JSON inside CodeBuild."""
    return f"{OUTPUTS_ENV_PREFIX}{stack.upper()}"


def local_state_path(stack: str) -> str:
    """Terraform's local-backend state file of ``stack``, relative to the project root."""
    return f"terraform.{stack}.tfstate"


# The endpoint's one production variant: blue/green keeps its name (SageMaker's guardrails require
# it), and the deploy stack's alarms watch it by this name.
VARIANT_NAME = "AllTraffic"

# Vocabularies, as the SageMaker API spells them. ml.config validates cdktf.json against them and
# the backends' records are typed with them: one home for each word.
ApprovalStatus = Literal["PendingManualApproval", "Approved", "Rejected"]
InitialApprovalStatus = Literal["PendingManualApproval", "Approved"]  # what a new version may start as
Decision = Literal["Approved", "Rejected"]  # what `approve` may set: a decision is never taken back to pending
TrafficType = Literal["ALL_AT_ONCE", "CANARY", "LINEAR"]  # TrafficRoutingConfig's Type
APPROVAL_STATUSES: tuple[ApprovalStatus, ...] = get_args(ApprovalStatus)
INITIAL_APPROVAL_STATUSES: tuple[InitialApprovalStatus, ...] = get_args(InitialApprovalStatus)
DECISIONS: tuple[Decision, ...] = get_args(Decision)
TRAFFIC_TYPES: tuple[TrafficType, ...] = get_args(TrafficType)
# The one mutable ECR tag: the train pipeline's ECR source follows it; training runs digests.
TRACKED_IMAGE_TAG = "latest"
# CodeBuild's commit id of the source it built (a CODE_ZIP source artifact has no .git).
SOURCE_VERSION_ENV = "CODEBUILD_RESOLVED_SOURCE_VERSION"
# containers-registries.conf(5) location buildah and podman read; an entry with `insecure = true`
# is how an environment (the CodeBuild rehearsal's loopback registry) allows plain HTTP.
REGISTRIES_CONF_ENV = "CONTAINERS_REGISTRIES_CONF"
# Tags that keep an image from expiring: one per registered, non-rejected model version. The
# ECR lifecycle policy (modules/stacks/build.py) selects this prefix in its first rule.
PINNED_IMAGE_TAG_PREFIX = "registered-"


def pinned_image_tag(group: str, version: int) -> str:
    """The tag that pins the image of model version ``version`` of ``group``."""
    return f"{PINNED_IMAGE_TAG_PREFIX}{group.lower()}-v{version}"


# How long the SageMaker backend waits (ml/backends/sagemaker), and so how long the CodeBuild
# project that runs it must live: one home for the numbers both sides use.
TRAINING_WAIT_MARGIN_SECONDS = 1800  # after MaxRuntime/MaxWait: SageMaker stops the job, uploads
ENDPOINT_SETTLE_SECONDS = 3600  # an endpoint's creation, or a change in progress, to settle
TRANSFORM_WAIT_SECONDS = 7200
BLUEGREEN_PROVISION_SECONDS = 1200  # launching the green fleet before traffic moves
BLUEGREEN_EXECUTION_RANGE = (600, 28800)  # SageMaker's MaximumExecutionTimeoutInSeconds
BUILD_PROJECT_MINUTES = 60  # build-image: no AWS wait, only the image build and push
PROJECT_SETUP_MINUTES = 20  # a project's own set-up around the wait: provisioning, pipenv sync
CODEBUILD_TIMEOUT_MINUTES = (5, 2160)  # CodeBuild's BuildTimeOut range (botocore's model)
MONITOR_REPORTS_PREFIX = "monitor-reports"  # data lake prefix of invoke monitor's HTML reports on AWS (its role writes only there)
TRAINING_DATA_KEY = "iris/input/iris.csv"  # the data lake object the train pipeline watches and trains on
TRANSFORM_OUTPUT_PREFIX = "iris/output"  # batch transform's default output: iris/output/<job>/<input>.out
# A single transform input split into parts (and the parts' outputs) before they are joined back:
# transform-splits/<job base>/{input/,output/<job>/,manifest.json}. The deploy role writes only here
# and under TRANSFORM_OUTPUT_PREFIX (modules/stacks/deploy.py).
TRANSFORM_SPLITS_PREFIX = "transform-splits"
REPORTS_PREFIX = "reports"  # training reports in the data lake: reports/<group>/<version>/ (ml/reports/aws.py)
CANDIDATE_REPORT = "candidate"  # reports/<group>/candidate/: the newest candidate, what the deploy approval links to


def candidate_report_key(group: str) -> str:
    """The data lake key of the newest candidate's report page (one home: ml.reports and modules/)."""
    return f"{REPORTS_PREFIX}/{group}/{CANDIDATE_REPORT}/index.html"


# CloudWatch alarms that guard a blue/green update (modules/alarms.py for the whole endpoint,
# ml/backends/sagemaker/guardrail_alarms.py for the new fleet only): one-minute periods, and two
# breaching periods in a row before an alarm fires.
ALARM_PERIOD_SECONDS = 60
ALARM_EVALUATION_PERIODS = 2
NEW_FLEET_ALARM_SUFFIXES = ("new-fleet-5xx-error-rate", "new-fleet-p99-model-latency")


def new_fleet_alarm_names(endpoint_name: str) -> tuple[str, str]:
    """The auto-rollback alarms of an update: error rate and p99 latency of the new fleet only.

    Named after the endpoint, so the execution role's DescribeAlarms grant and the deploy role's
    PutMetricAlarm grant (``alarm:<endpoint>-new-fleet-*``) cover them."""
    errors, latency = (f"{endpoint_name}-{suffix}" for suffix in NEW_FLEET_ALARM_SUFFIXES)
    return errors, latency


# The log groups SageMaker writes to (the stacks declare them with retention and a key; the
# backend tails the training and transform ones).
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"


def endpoint_log_group(endpoint_name: str) -> str:
    """An endpoint's own log group: SageMaker names it after the endpoint."""
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


# The container's Debian base comes from Amazon ECR Public's mirror of Docker's official image
# (Docker Hub limits anonymous pulls per address, and CodeBuild's addresses are shared). Inside
# CodeBuild it is pulled through the build stack's ECR pull-through cache rule, so each build
# pulls from the account's own registry, with the project's credentials.
BASE_IMAGE_UPSTREAM = "public.ecr.aws"
BASE_IMAGE_PATH = "docker/library/debian:bookworm-slim"


def pull_through_prefix(project_name: str) -> str:
    """The ECR repository prefix of the base image cache (ECR allows 2-30 characters)."""
    return f"{project_name[:23].rstrip('-')}-public"


def cached_base_image(repository_url: str, project_name: str) -> str:
    """The base image through the cache, in the registry that holds ``repository_url``."""
    registry = repository_url.split("/", 1)[0]
    return f"{registry}/{pull_through_prefix(project_name)}/{BASE_IMAGE_PATH}"
